-- migrate:up
ALTER TABLE tenant_0042.audit_trail OWNER TO migrator;

DROP SCHEMA IF EXISTS legacy CASCADE;

-- migrate:down
SELECT 1;
