SET lock_timeout = '5s';

ALTER FUNCTION "analytics.v2".f_127_1(bigint) SET search_path = pg_catalog;

ALTER TABLE "analytics.v2".invoices ADD COLUMN IF NOT EXISTS currency_code_127_3 uuid;

ALTER TABLE "analytics.v2".tenants SET (autovacuum_vacuum_scale_factor = 0.02, fillfactor = 90);
