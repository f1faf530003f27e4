SET lock_timeout = '5s';

CREATE DOMAIN public.dom_113_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN public.dom_113_1 SET DEFAULT 'none';

DO LANGUAGE plpgsql $do$
DECLARE r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'ops' LOOP
        EXECUTE 'ANALYZE ops.' || quote_ident(r.tablename);
    END LOOP;
END $do$;
