-- +goose Up
SET lock_timeout = '5s';

ALTER TYPE tenant_0042.status RENAME VALUE 'done' TO 'completed';

SELECT pg_catalog.set_config('search_path', '', false);

DROP SCHEMA IF EXISTS legacy CASCADE;

COMMENT ON CONSTRAINT fk_152_9 ON tenant_0042.signals IS 'it''s deferrable on purpose';

-- +goose Down
DROP TABLE IF EXISTS whatever;
