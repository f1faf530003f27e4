DO LANGUAGE plpgsql $do$
DECLARE r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'ops' LOOP
        EXECUTE 'ANALYZE ops.' || quote_ident(r.tablename);
    END LOOP;
END $do$;

COMMENT ON COLUMN "Tenant-Acme".workflow_runs.region IS E'Stored in minor units.\nNever negative.';

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_295_4 ON "Tenant-Acme".api_tokens USING btree (state) WHERE visibility_ts IS NOT NULL;

DO LANGUAGE 'plpgsql' $$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS x int', 'tenants');
END
$$;

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_295_5 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_295_5_2023 (LIKE "Tenant-Acme".events_295_5 INCLUDING ALL);

ALTER TABLE "Tenant-Acme".events_295_5 ATTACH PARTITION "Tenant-Acme".events_295_5_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_295_5_2024 PARTITION OF "Tenant-Acme".events_295_5
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
