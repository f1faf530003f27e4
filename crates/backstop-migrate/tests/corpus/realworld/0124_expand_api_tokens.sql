SET lock_timeout = '5s';

CREATE SEQUENCE IF NOT EXISTS "Tenant-Acme".seq_124_1 AS smallint START WITH 472 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 20;

ALTER SEQUENCE "Tenant-Acme".seq_124_1 RESTART WITH 5880;

CREATE DOMAIN "Tenant-Acme".dom_124_2 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN "Tenant-Acme".dom_124_2 SET DEFAULT 'none';

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_124_3 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_124_3_2023 (LIKE "Tenant-Acme".events_124_3 INCLUDING ALL);

ALTER TABLE "Tenant-Acme".events_124_3 ATTACH PARTITION "Tenant-Acme".events_124_3_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_124_3_2024 (LIKE "Tenant-Acme".events_124_3 INCLUDING ALL);

ALTER TABLE "Tenant-Acme".events_124_3 ATTACH PARTITION "Tenant-Acme".events_124_3_2024
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_124_4 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_124_4_2023 PARTITION OF "Tenant-Acme".events_124_4
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_124_4_2024 (LIKE "Tenant-Acme".events_124_4 INCLUDING ALL);

ALTER TABLE "Tenant-Acme".events_124_4 ATTACH PARTITION "Tenant-Acme".events_124_4_2024
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_124_4_2025 PARTITION OF "Tenant-Acme".events_124_4
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

DO 'BEGIN RAISE NOTICE ''migrating cluster_members; please wait''; END';
