-- +goose Up
ALTER TABLE tenant_0042.reservations ALTER COLUMN priority SET STATISTICS 500;

CREATE STATISTICS IF NOT EXISTS tenant_0042.stx_273_3  ON visibility_ts, attempt FROM tenant_0042.ledgers;

CREATE TABLE IF NOT EXISTS tenant_0042.events_273_4 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS tenant_0042.events_273_4_2023 (LIKE tenant_0042.events_273_4 INCLUDING ALL);

ALTER TABLE tenant_0042.events_273_4 ATTACH PARTITION tenant_0042.events_273_4_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS tenant_0042.events_273_4_2024 (LIKE tenant_0042.events_273_4 INCLUDING ALL);

ALTER TABLE tenant_0042.events_273_4 ATTACH PARTITION tenant_0042.events_273_4_2024
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS tenant_0042.events_273_4_default PARTITION OF tenant_0042.events_273_4 DEFAULT;

-- +goose Down
DROP TABLE IF EXISTS whatever;
