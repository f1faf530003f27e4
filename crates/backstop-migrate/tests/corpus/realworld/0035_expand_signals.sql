-- Migration 35: expand step
CREATE DOMAIN temporal.dom_35_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

CREATE SEQUENCE IF NOT EXISTS temporal.seq_35_2 AS integer START WITH 78 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;

ALTER SEQUENCE temporal.seq_35_2 RESTART WITH 2634;

CREATE TABLE IF NOT EXISTS temporal.events_35_3 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS temporal.events_35_3_2023 PARTITION OF temporal.events_35_3
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS temporal.events_35_3_2024 PARTITION OF temporal.events_35_3
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS temporal.events_35_3_2025 PARTITION OF temporal.events_35_3
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

CREATE TABLE IF NOT EXISTS temporal.events_35_3_default PARTITION OF temporal.events_35_3 DEFAULT;
