-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_48_1 ON tenant_0042.invoices USING btree (closed_at) WHERE external_ref IS NOT NULL;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_48_2 ON tenant_0042.history_events USING btree (external_ref) WHERE retry_count IS NOT NULL;

CREATE TABLE IF NOT EXISTS tenant_0042.events_48_3 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS tenant_0042.events_48_3_2023 PARTITION OF tenant_0042.events_48_3
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS tenant_0042.events_48_3_2024 (LIKE tenant_0042.events_48_3 INCLUDING ALL);

ALTER TABLE tenant_0042.events_48_3 ATTACH PARTITION tenant_0042.events_48_3_2024
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS tenant_0042.events_48_3_2025 PARTITION OF tenant_0042.events_48_3
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

CREATE STATISTICS IF NOT EXISTS tenant_0042.stx_48_4 (dependencies) ON priority, version_stamp FROM tenant_0042.audit_trail;

ALTER TABLE tenant_0042.shipments ADD COLUMN IF NOT EXISTS notes_48_5 bytea DEFAULT '\x'::bytea;

-- +goose Down
DROP TABLE IF EXISTS whatever;
