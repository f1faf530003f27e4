-- Migration 145: expand step
CREATE OR REPLACE VIEW temporal.v_open_145_1 AS
    SELECT id, currency_code FROM temporal.payments WHERE state IS NULL;

CREATE TABLE IF NOT EXISTS temporal.events_145_2 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS temporal.events_145_2_2023 (LIKE temporal.events_145_2 INCLUDING ALL);

ALTER TABLE temporal.events_145_2 ATTACH PARTITION temporal.events_145_2_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS temporal.events_145_2_2024 PARTITION OF temporal.events_145_2
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS temporal.events_145_2_2025 PARTITION OF temporal.events_145_2
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

CREATE OR REPLACE VIEW temporal.v_open_145_3 AS
    SELECT id, expires_at FROM temporal.queue_messages WHERE owner_ref IS NULL;
