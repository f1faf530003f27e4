SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS events_292_1 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS events_292_1_2023 PARTITION OF events_292_1
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_292_2 ON public.tenants USING gin (labels) WHERE expires_at IS NOT NULL;

COMMENT ON SCHEMA public IS 'tenant data';
