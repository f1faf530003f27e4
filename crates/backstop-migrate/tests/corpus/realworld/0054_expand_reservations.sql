SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS temporal.events_54_1 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS temporal.events_54_1_2023 (LIKE temporal.events_54_1 INCLUDING ALL);

ALTER TABLE temporal.events_54_1 ATTACH PARTITION temporal.events_54_1_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS temporal.events_54_1_2024 PARTITION OF temporal.events_54_1
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_54_2 ON temporal.payments (expires_at) WHERE region IS NOT NULL;

DO LANGUAGE plpgsql $do$
DECLARE r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'ops' LOOP
        EXECUTE 'ANALYZE ops.' || quote_ident(r.tablename);
    END LOOP;
END $do$;

COMMENT ON COLUMN temporal.namespaces.closed_at IS E'Stored in minor units.\nNever negative.';

COMMENT ON CONSTRAINT fk_54_8 ON temporal.webhooks IS 'it''s deferrable on purpose';
