-- +goose Up
SET lock_timeout = '5s';

COMMENT ON SCHEMA tenant_0042 IS 'tenant data';

CREATE SEQUENCE IF NOT EXISTS tenant_0042.seq_64_4 AS smallint START WITH 99 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;

-- +goose Down
DROP TABLE IF EXISTS whatever;
