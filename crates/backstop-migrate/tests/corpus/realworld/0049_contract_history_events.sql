-- +goose Up
SET lock_timeout = '5s';

ALTER DOMAIN "Tenant-Acme".legacy_dom SET NOT NULL;

ALTER TYPE "Tenant-Acme".status RENAME TO run_status;

COMMENT ON SCHEMA "Tenant-Acme" IS 'tenant data';

ALTER TABLE "Tenant-Acme".api_tokens ALTER COLUMN checksum TYPE bigint USING checksum::bigint;

SELECT pg_catalog.set_config('search_path', '', false);

-- +goose Down
DROP TABLE IF EXISTS whatever;
