SET lock_timeout = '5s';

CREATE STATISTICS IF NOT EXISTS temporal.stx_267_1  ON visibility_ts, attempt FROM temporal.workflow_runs;

ALTER FUNCTION temporal.f_267_2(bigint) SET search_path = pg_catalog;

CREATE DOMAIN temporal.dom_267_4 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');
