-- +goose Up
CREATE DOMAIN tenant_0042.dom_171_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN tenant_0042.dom_171_1 ADD CONSTRAINT dom_171_1_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN tenant_0042.dom_171_1 VALIDATE CONSTRAINT dom_171_1_len;

CREATE DOMAIN tenant_0042.dom_171_2 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN tenant_0042.dom_171_2 ADD CONSTRAINT dom_171_2_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN tenant_0042.dom_171_2 VALIDATE CONSTRAINT dom_171_2_len;

CREATE STATISTICS IF NOT EXISTS tenant_0042.stx_171_3  ON external_ref, shard_id FROM tenant_0042.namespaces;

-- +goose Down
DROP TABLE IF EXISTS whatever;
