-- migrate:up
BEGIN;

SET lock_timeout = '5s';

REFRESH MATERIALIZED VIEW CONCURRENTLY tenant_0042.v_open_stats;

DO LANGUAGE plpgsql $do$
DECLARE r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'ops' LOOP
        EXECUTE 'ANALYZE ops.' || quote_ident(r.tablename);
    END LOOP;
END $do$;

DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql;

DELETE FROM tenant_0042.timers WHERE expires_at < now();

COMMIT;

-- migrate:down
SELECT 1;
