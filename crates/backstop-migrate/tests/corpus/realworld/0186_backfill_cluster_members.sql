-- migrate:up
REFRESH MATERIALIZED VIEW CONCURRENTLY billing.v_open_stats;

DO LANGUAGE plpgsql $do$
DECLARE r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'ops' LOOP
        EXECUTE 'ANALYZE ops.' || quote_ident(r.tablename);
    END LOOP;
END $do$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
        CREATE TYPE mood AS ENUM ('a', 'b');
    END IF;
END
$$;

UPDATE billing.reservations SET version_stamp = 0 WHERE id BETWEEN 1 AND 10000 AND shard_id IS NULL;

WITH moved AS (DELETE FROM billing.history_events WHERE closed_at < now() - interval '90 days' RETURNING *)
    INSERT INTO billing.namespaces SELECT * FROM moved;

-- migrate:down
SELECT 1;
