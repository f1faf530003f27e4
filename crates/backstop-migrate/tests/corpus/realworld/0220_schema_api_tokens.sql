-- +goose Up
BEGIN;

ALTER TABLE ledgers ALTER COLUMN visibility_ts SET STATISTICS 500;

CREATE TYPE public.status_220_3 AS ENUM ('pending', 'running', 'done');

ALTER TYPE public.status_220_3 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

COMMIT;

-- +goose Down
DROP TABLE IF EXISTS whatever;
