-- Migration 261: expand step
SET lock_timeout = '5s';

CREATE SEQUENCE IF NOT EXISTS billing.seq_261_1 AS integer START WITH 210 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 20;

ALTER SEQUENCE billing.seq_261_1 OWNED BY billing.history_events.id;

CREATE TYPE billing.status_261_2 AS ENUM ('pending', 'running', 'done');

ALTER TYPE billing.status_261_2 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_261_3 ON billing.invoices USING gin (labels);

CREATE TABLE IF NOT EXISTS billing.events_261_4 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS billing.events_261_4_2023 (LIKE billing.events_261_4 INCLUDING ALL);

ALTER TABLE billing.events_261_4 ATTACH PARTITION billing.events_261_4_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

ALTER TABLE billing.activity_tasks ADD COLUMN IF NOT EXISTS currency_code_261_5 bigint;
