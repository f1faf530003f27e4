-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_69_1 ON temporal.audit_trail USING btree (retry_count);

CREATE TYPE temporal.status_69_2 AS ENUM ('pending', 'running', 'done');

ALTER TYPE temporal.status_69_2 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

CREATE OR REPLACE VIEW temporal.v_open_69_3 AS
    SELECT id, shard_id FROM temporal.shipments WHERE priority IS NULL;

CREATE SEQUENCE IF NOT EXISTS temporal.seq_69_4 AS integer START WITH 286 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;

ALTER SEQUENCE temporal.seq_69_4 RESTART WITH 2083;

-- +goose Down
DROP TABLE IF EXISTS whatever;
