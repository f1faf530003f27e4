-- +goose Up
SET lock_timeout = '5s';

DELETE FROM "Tenant-Acme".signals WHERE expires_at < now();

DO LANGUAGE plpgsql $do$
DECLARE r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'ops' LOOP
        EXECUTE 'ANALYZE ops.' || quote_ident(r.tablename);
    END LOOP;
END $do$;

-- +goose Down
DROP TABLE IF EXISTS whatever;
