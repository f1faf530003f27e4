-- +goose Up
SET lock_timeout = '5s';

CREATE DOMAIN public.dom_142_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER TABLE signals ADD CONSTRAINT fk_142_2 FOREIGN KEY (payload) REFERENCES api_tokens (id) NOT VALID;

ALTER TABLE signals VALIDATE CONSTRAINT fk_142_2;

ALTER TABLE signals ALTER CONSTRAINT fk_142_2 DEFERRABLE INITIALLY DEFERRED;

-- +goose Down
DROP TABLE IF EXISTS whatever;
