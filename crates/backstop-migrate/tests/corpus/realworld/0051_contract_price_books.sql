SET lock_timeout = '5s';

COMMENT ON INDEX idx_51_2 IS NULL;

ANALYZE "Tenant-Acme".webhooks;

DROP TABLE IF EXISTS "Tenant-Acme".cluster_members CASCADE;

ALTER TABLE "Tenant-Acme".webhooks ALTER COLUMN attempt DROP DEFAULT;

DROP FUNCTION IF EXISTS "Tenant-Acme".legacy_fn(bigint, text);
