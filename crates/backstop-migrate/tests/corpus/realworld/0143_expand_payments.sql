CREATE DOMAIN ops.dom_143_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN ops.dom_143_1 ADD CONSTRAINT dom_143_1_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN ops.dom_143_1 VALIDATE CONSTRAINT dom_143_1_len;

ALTER DOMAIN ops.dom_143_1 SET DEFAULT 'none';

ANALYZE ops.shipments;

ALTER TABLE ops.queue_messages ADD COLUMN IF NOT EXISTS labels_143_4 timestamptz;
