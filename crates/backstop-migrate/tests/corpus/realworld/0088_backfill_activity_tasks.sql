BEGIN;

SET lock_timeout = '5s';

REFRESH MATERIALIZED VIEW CONCURRENTLY tenant_0042.v_open_stats;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
        CREATE TYPE mood AS ENUM ('a', 'b');
    END IF;
END
$$;

DO LANGUAGE 'plpgsql' $$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS x int', 'reservations');
END
$$;

COMMIT;
