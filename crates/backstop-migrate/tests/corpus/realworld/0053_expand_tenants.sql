-- Migration 53: expand step
CREATE TYPE ops.status_53_1 AS ENUM ('pending', 'running', 'done');

ALTER TYPE ops.status_53_1 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

CREATE OR REPLACE FUNCTION ops.touch_updated_at_53_2(a integer, b integer DEFAULT 1) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 10
    RETURN a + b;

ALTER TABLE ops.queue_messages ADD COLUMN IF NOT EXISTS run_id_53_3 text[] DEFAULT '{}'::text[];

CREATE OR REPLACE VIEW ops.v_open_53_4 AS
    SELECT id, retry_count FROM ops.payments WHERE version_stamp IS NULL;
