-- Migration 175: contract step
ALTER TABLE tenant_0042.cluster_members ALTER COLUMN currency_code SET STATISTICS 500;

ALTER TABLE tenant_0042.webhooks DROP COLUMN IF EXISTS expires_at;

ALTER TABLE tenant_0042.activity_tasks ADD COLUMN amount_minor_175_5 bigint NOT NULL;
