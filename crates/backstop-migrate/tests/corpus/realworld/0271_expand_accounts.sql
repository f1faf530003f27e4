SET lock_timeout = '5s';

ALTER TABLE ops.queue_messages ADD COLUMN IF NOT EXISTS display_label_271_1 bigint;
