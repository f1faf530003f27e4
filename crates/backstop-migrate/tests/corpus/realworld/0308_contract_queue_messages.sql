SET lock_timeout = '5s';

DROP TABLE IF EXISTS "Tenant-Acme".audit_trail CASCADE;

ALTER TABLE "Tenant-Acme".webhooks ALTER COLUMN amount_minor SET STATISTICS 500;

DROP MATERIALIZED VIEW IF EXISTS "Tenant-Acme".mv_legacy;

DROP INDEX IF EXISTS "Tenant-Acme".legacy_idx;

ALTER SEQUENCE "Tenant-Acme".legacy_seq MAXVALUE 100000;
