-- Migration 213: expand step
CREATE OR REPLACE VIEW temporal.v_open_213_1 AS
    SELECT id, notes FROM temporal.activity_tasks WHERE retry_count IS NULL;

CREATE TYPE temporal.status_213_2 AS ENUM ('pending', 'running', 'done');

CREATE DOMAIN temporal.dom_213_3 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN temporal.dom_213_3 ADD CONSTRAINT dom_213_3_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN temporal.dom_213_3 VALIDATE CONSTRAINT dom_213_3_len;

ALTER TABLE temporal.price_books ADD COLUMN IF NOT EXISTS shard_id_213_4 timestamptz;

DO LANGUAGE plpgsql $do$
DECLARE r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'ops' LOOP
        EXECUTE 'ANALYZE ops.' || quote_ident(r.tablename);
    END LOOP;
END $do$;
