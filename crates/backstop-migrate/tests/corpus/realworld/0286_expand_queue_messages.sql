-- migrate:up
SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS events_286_1 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS public.events_286_1_2023 PARTITION OF events_286_1
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

-- migrate:down
SELECT 1;
