-- +goose Up
CREATE TYPE "analytics.v2".status_47_1 AS ENUM ('pending', 'running', 'done');

ALTER TYPE "analytics.v2".status_47_1 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

CREATE STATISTICS IF NOT EXISTS "analytics.v2".stx_47_2  ON currency_code, payload FROM "analytics.v2".line_items;

CREATE TYPE "analytics.v2".status_47_3 AS ENUM ('pending', 'running', 'done');

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_47_4 ON "analytics.v2".ledgers (shard_id);

CREATE DOMAIN "analytics.v2".dom_47_5 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

-- +goose Down
DROP TABLE IF EXISTS whatever;
