-- migrate:up
SET lock_timeout = '5s';

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_216_1 ON tenant_0042.webhooks USING gin (labels);

CREATE FUNCTION tenant_0042.touch_updated_at_216_2() RETURNS trigger AS '
BEGIN
    NEW.note := ''it''''s done; really'';
    RETURN NEW;
END;
' LANGUAGE 'plpgsql' VOLATILE;

CREATE OR REPLACE FUNCTION tenant_0042.touch_updated_at_216_3(a integer, b integer DEFAULT 1) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 10
    RETURN a + b;

-- migrate:down
SELECT 1;
