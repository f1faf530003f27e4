-- +goose Up
SET lock_timeout = '5s';

ALTER TABLE tenant_0042.api_tokens ALTER COLUMN owner_ref DROP DEFAULT;

ALTER FUNCTION tenant_0042.f_219_3(bigint) SET search_path = pg_catalog;

ALTER TABLE tenant_0042.price_books DETACH PARTITION tenant_0042.price_books_2023;

-- +goose Down
DROP TABLE IF EXISTS whatever;
