SET lock_timeout = '5s';

DROP MATERIALIZED VIEW IF EXISTS "analytics.v2".mv_legacy;

COMMENT ON SCHEMA "analytics.v2" IS 'tenant data';

ALTER TYPE "analytics.v2".status RENAME VALUE 'done' TO 'completed';
