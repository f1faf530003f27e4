CREATE SEQUENCE IF NOT EXISTS billing.seq_117_1 AS bigint START WITH 836 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 20;

ALTER SEQUENCE billing.seq_117_1 OWNED BY billing.line_items.id;

ALTER SEQUENCE billing.seq_117_1 RESTART WITH 5004;

SELECT setval('seq_117_1', (SELECT coalesce(max(id), 1) FROM billing.api_tokens));

CREATE TYPE billing.money_pair_117_2 AS (amount numeric, currency char(3));

CREATE DOMAIN billing.dom_117_3 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN billing.dom_117_3 ADD CONSTRAINT dom_117_3_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN billing.dom_117_3 VALIDATE CONSTRAINT dom_117_3_len;

CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TABLE IF NOT EXISTS billing.events_117_6 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS billing.events_117_6_2023 PARTITION OF billing.events_117_6
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS billing.events_117_6_2024 (LIKE billing.events_117_6 INCLUDING ALL);

ALTER TABLE billing.events_117_6 ATTACH PARTITION billing.events_117_6_2024
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS billing.events_117_6_2025 (LIKE billing.events_117_6 INCLUDING ALL);

ALTER TABLE billing.events_117_6 ATTACH PARTITION billing.events_117_6_2025
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

CREATE TABLE IF NOT EXISTS billing.events_117_6_default PARTITION OF billing.events_117_6 DEFAULT;
