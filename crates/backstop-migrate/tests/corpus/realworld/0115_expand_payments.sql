SET lock_timeout = '5s';

ALTER TABLE ops.shipments ADD COLUMN IF NOT EXISTS version_stamp_115_1 bigint DEFAULT 0;

CREATE OR REPLACE FUNCTION ops.touch_updated_at_115_2() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE STATISTICS IF NOT EXISTS ops.stx_115_3 (mcv) ON labels, expires_at FROM ops.history_events;
