-- migrate:up
BEGIN;

SET lock_timeout = '5s';

CREATE SCHEMA IF NOT EXISTS "Tenant-Acme";

COMMENT ON TABLE "Tenant-Acme".webhooks IS 'Owned by the billing team; see runbook §4';

COMMENT ON INDEX idx_25_7 IS NULL;

COMMIT;

-- migrate:down
SELECT 1;
