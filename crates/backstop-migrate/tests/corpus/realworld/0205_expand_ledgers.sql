-- migrate:up
CREATE TABLE IF NOT EXISTS ops.events_205_1 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS ops.events_205_1_2023 (LIKE ops.events_205_1 INCLUDING ALL);

ALTER TABLE ops.events_205_1 ATTACH PARTITION ops.events_205_1_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS ops.events_205_1_2024 PARTITION OF ops.events_205_1
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS ops.events_205_1_2025 (LIKE ops.events_205_1 INCLUDING ALL);

ALTER TABLE ops.events_205_1 ATTACH PARTITION ops.events_205_1_2025
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

CREATE OR REPLACE PROCEDURE ops.touch_updated_at_205_2(batch integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $proc$
BEGIN
    COMMIT;
END;
$proc$;

CREATE FUNCTION ops.touch_updated_at_205_3() RETURNS trigger AS '
BEGIN
    NEW.note := ''it''''s done; really'';
    RETURN NEW;
END;
' LANGUAGE 'plpgsql' VOLATILE;

CREATE OR REPLACE PROCEDURE ops.touch_updated_at_205_4(batch integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $proc$
BEGIN
    COMMIT;
END;
$proc$;

-- migrate:down
SELECT 1;
