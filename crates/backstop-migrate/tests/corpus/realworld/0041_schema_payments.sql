-- migrate:up
CREATE TABLE IF NOT EXISTS temporal.events_41_1 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS temporal.events_41_1_2023 PARTITION OF temporal.events_41_1
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS temporal.events_41_1_2024 PARTITION OF temporal.events_41_1
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS temporal.events_41_1_2025 PARTITION OF temporal.events_41_1
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

CREATE TABLE IF NOT EXISTS temporal.events_41_1_default PARTITION OF temporal.events_41_1 DEFAULT;

CREATE FUNCTION temporal.touch_updated_at_41_2() RETURNS trigger AS '
BEGIN
    NEW.note := ''it''''s done; really'';
    RETURN NEW;
END;
' LANGUAGE 'plpgsql' VOLATILE;

CREATE TYPE temporal.status_41_3 AS ENUM ('pending', 'running', 'done');

ALTER TYPE temporal.status_41_3 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

CREATE OR REPLACE FUNCTION temporal.trg_fn_41_4() RETURNS trigger LANGUAGE plpgsql AS $t$ BEGIN RETURN NEW; END $t$;

CREATE OR REPLACE TRIGGER trg_41_5 BEFORE UPDATE ON temporal.workflow_runs
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION temporal.trg_fn_41_4();

CREATE TABLE IF NOT EXISTS temporal.events_41_6 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS temporal.events_41_6_2023 PARTITION OF temporal.events_41_6
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS temporal.events_41_6_2024 PARTITION OF temporal.events_41_6
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS temporal.events_41_6_2025 (LIKE temporal.events_41_6 INCLUDING ALL);

ALTER TABLE temporal.events_41_6 ATTACH PARTITION temporal.events_41_6_2025
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

-- migrate:down
SELECT 1;
