SET lock_timeout = '5s';

CREATE TYPE tenant_0042.status_209_1 AS ENUM ('pending', 'running', 'done');

GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA tenant_0042 TO app_rw;

ALTER DEFAULT PRIVILEGES IN SCHEMA tenant_0042 GRANT SELECT ON TABLES TO app_ro;

CREATE TABLE IF NOT EXISTS tenant_0042.events_209_2 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS tenant_0042.events_209_2_2023 PARTITION OF tenant_0042.events_209_2
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS tenant_0042.events_209_2_2024 (LIKE tenant_0042.events_209_2 INCLUDING ALL);

ALTER TABLE tenant_0042.events_209_2 ATTACH PARTITION tenant_0042.events_209_2_2024
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS tenant_0042.events_209_3 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS tenant_0042.events_209_3_2023 (LIKE tenant_0042.events_209_3 INCLUDING ALL);

ALTER TABLE tenant_0042.events_209_3 ATTACH PARTITION tenant_0042.events_209_3_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS tenant_0042.events_209_3_default PARTITION OF tenant_0042.events_209_3 DEFAULT;

CREATE DOMAIN tenant_0042.dom_209_4 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');
