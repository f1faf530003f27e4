-- +goose Up
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION tenant_0042.touch_updated_at_259_1(p_id bigint) RETURNS TABLE (id bigint, label text)
    LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT p_id, 'x;y';
END;

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_259_2 ON tenant_0042.shipments (amount_minor);

ALTER TABLE tenant_0042.signals ALTER COLUMN visibility_ts SET STATISTICS 500;

CREATE TYPE tenant_0042.status_259_5 AS ENUM ('pending', 'running', 'done');

ALTER TYPE tenant_0042.status_259_5 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

-- +goose Down
DROP TABLE IF EXISTS whatever;
