-- migrate:up
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_167_1 ON ops.payments (owner_ref) WHERE labels IS NOT NULL;

COMMENT ON FUNCTION ops.touch_167_2() IS 'Sets updated_at; called by triggers only';

ALTER TABLE ops.namespaces ADD COLUMN IF NOT EXISTS labels_167_5 inet;

CREATE DOMAIN ops.dom_167_6 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN ops.dom_167_6 SET DEFAULT 'none';

DO LANGUAGE plpgsql $do$
DECLARE r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'ops' LOOP
        EXECUTE 'ANALYZE ops.' || quote_ident(r.tablename);
    END LOOP;
END $do$;

-- migrate:down
SELECT 1;
