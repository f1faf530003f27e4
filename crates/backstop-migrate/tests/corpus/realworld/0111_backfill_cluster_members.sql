-- migrate:up
DO 'BEGIN RAISE NOTICE ''migrating cluster_members; please wait''; END';

DO LANGUAGE plpgsql $do$
DECLARE r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'ops' LOOP
        EXECUTE 'ANALYZE ops.' || quote_ident(r.tablename);
    END LOOP;
END $do$;

DO 'BEGIN RAISE NOTICE ''migrating namespaces; please wait''; END';

INSERT INTO "analytics.v2".namespaces (id, closed_at) VALUES (1, 'a'), (2, 'b') ON CONFLICT (id) DO NOTHING;

-- migrate:down
SELECT 1;
