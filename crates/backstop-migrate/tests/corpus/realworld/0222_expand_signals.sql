-- Migration 222: expand step
CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_222_1 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_222_1_2023 PARTITION OF "Tenant-Acme".events_222_1
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_222_1_2024 (LIKE "Tenant-Acme".events_222_1 INCLUDING ALL);

ALTER TABLE "Tenant-Acme".events_222_1 ATTACH PARTITION "Tenant-Acme".events_222_1_2024
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_222_1_2025 PARTITION OF "Tenant-Acme".events_222_1
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_222_1_default PARTITION OF "Tenant-Acme".events_222_1 DEFAULT;

CREATE OR REPLACE FUNCTION "Tenant-Acme".touch_updated_at_222_2(a integer, b integer DEFAULT 1) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 10
    RETURN a + b;

CREATE OR REPLACE VIEW "Tenant-Acme".v_open_222_3 AS
    SELECT id, owner_ref FROM "Tenant-Acme".tenants WHERE region IS NULL;
