-- Migration 250: contract step
SET lock_timeout = '5s';

ALTER INDEX "Tenant-Acme".legacy_idx RENAME TO legacy_idx_old;

ALTER TABLE "Tenant-Acme".ledgers ADD COLUMN owner_ref_250_3 bigint NOT NULL;

ALTER TABLE "Tenant-Acme".history_events OWNER TO migrator;

COMMENT ON COLUMN "Tenant-Acme".namespaces.visibility_ts IS E'Stored in minor units.\nNever negative.';

ALTER TABLE "Tenant-Acme".queue_messages ALTER COLUMN run_id SET DEFAULT 'x';
