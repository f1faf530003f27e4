-- +goose Up
CREATE DOMAIN tenant_0042.dom_14_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN tenant_0042.dom_14_1 ADD CONSTRAINT dom_14_1_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN tenant_0042.dom_14_1 VALIDATE CONSTRAINT dom_14_1_len;

ALTER DOMAIN tenant_0042.dom_14_1 SET DEFAULT 'none';

CREATE TYPE tenant_0042.status_14_2 AS ENUM ('pending', 'running', 'done');

ALTER TYPE tenant_0042.status_14_2 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

DO 'BEGIN RAISE NOTICE ''migrating reservations; please wait''; END';

CREATE DOMAIN tenant_0042.dom_14_3 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN tenant_0042.dom_14_3 ADD CONSTRAINT dom_14_3_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN tenant_0042.dom_14_3 VALIDATE CONSTRAINT dom_14_3_len;

-- +goose Down
DROP TABLE IF EXISTS whatever;
