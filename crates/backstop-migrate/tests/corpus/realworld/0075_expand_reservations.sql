-- +goose Up
SET lock_timeout = '5s';

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_75_1 ON "Tenant-Acme".price_books USING btree (notes);

ALTER TABLE "Tenant-Acme".line_items ADD COLUMN IF NOT EXISTS expires_at_75_2 timestamptz DEFAULT now();

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_75_3 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_75_3_2023 PARTITION OF "Tenant-Acme".events_75_3
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_75_3_2024 PARTITION OF "Tenant-Acme".events_75_3
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TYPE "Tenant-Acme".status_75_4 AS ENUM ('pending', 'running', 'done');

ALTER TYPE "Tenant-Acme".status_75_4 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

CREATE SCHEMA IF NOT EXISTS "Tenant-Acme";

-- +goose Down
DROP TABLE IF EXISTS whatever;
