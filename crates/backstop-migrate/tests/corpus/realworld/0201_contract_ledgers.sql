DROP TYPE IF EXISTS ops.legacy_status;

ALTER DOMAIN ops.legacy_dom SET NOT NULL;

ALTER TABLE ops.tenants RENAME CONSTRAINT tenants_pkey TO tenants_pk;

REVOKE INSERT ON ops.accounts FROM app_rw;
