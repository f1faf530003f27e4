-- +goose Up
SET lock_timeout = '5s';

DROP VIEW IF EXISTS "Tenant-Acme".v_legacy;

DROP MATERIALIZED VIEW IF EXISTS "Tenant-Acme".mv_legacy;

ALTER TABLE "Tenant-Acme".webhooks ALTER COLUMN priority DROP DEFAULT;

COMMENT ON TABLE "Tenant-Acme".accounts IS 'Owned by the ops team; see runbook §4';

-- +goose Down
DROP TABLE IF EXISTS whatever;
