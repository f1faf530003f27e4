-- Migration 112: expand step
SET lock_timeout = '5s';

CREATE OR REPLACE VIEW "Tenant-Acme".v_open_112_1 AS
    SELECT id, run_id FROM "Tenant-Acme".activity_tasks WHERE closed_at IS NULL;

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_112_2 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_112_2_2023 (LIKE "Tenant-Acme".events_112_2 INCLUDING ALL);

ALTER TABLE "Tenant-Acme".events_112_2 ATTACH PARTITION "Tenant-Acme".events_112_2_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_112_2_2024 PARTITION OF "Tenant-Acme".events_112_2
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_112_2_2025 (LIKE "Tenant-Acme".events_112_2 INCLUDING ALL);

ALTER TABLE "Tenant-Acme".events_112_2 ATTACH PARTITION "Tenant-Acme".events_112_2_2025
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_112_2_default PARTITION OF "Tenant-Acme".events_112_2 DEFAULT;
