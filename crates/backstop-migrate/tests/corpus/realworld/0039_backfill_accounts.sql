-- Migration 39: backfill step
BEGIN;

SET lock_timeout = '5s';

UPDATE "Tenant-Acme".history_events SET state = 0 WHERE id BETWEEN 1 AND 10000 AND retry_count IS NULL;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
        CREATE TYPE mood AS ENUM ('a', 'b');
    END IF;
END
$$;

UPDATE "Tenant-Acme".payments SET labels = 0 WHERE id BETWEEN 1 AND 10000 AND shard_id IS NULL;

REFRESH MATERIALIZED VIEW CONCURRENTLY "Tenant-Acme".v_open_stats;

COMMIT;
