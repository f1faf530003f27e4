-- migrate:up
SET lock_timeout = '5s';

CREATE MATERIALIZED VIEW IF NOT EXISTS v_open_63_1 AS
    SELECT id, visibility_ts FROM public.namespaces WHERE state IS NULL;

CREATE UNIQUE INDEX IF NOT EXISTS mv_idx_63_2 ON v_open_63_1 (id);

CREATE TABLE IF NOT EXISTS public.events_63_3 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS public.events_63_3_2023 (LIKE events_63_3 INCLUDING ALL);

ALTER TABLE public.events_63_3 ATTACH PARTITION public.events_63_3_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS public.events_63_3_2024 PARTITION OF events_63_3
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS events_63_3_2025 (LIKE public.events_63_3 INCLUDING ALL);

ALTER TABLE events_63_3 ATTACH PARTITION events_63_3_2025
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

COMMENT ON COLUMN activity_tasks.retry_count IS E'Stored in minor units.\nNever negative.';

CREATE OR REPLACE FUNCTION touch_updated_at_63_7(p_id bigint) RETURNS TABLE (id bigint, label text)
    LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT p_id, 'x;y';
END;

ALTER TABLE public.timers ADD COLUMN IF NOT EXISTS closed_at_63_8 date;

-- migrate:down
SELECT 1;
