BEGIN;

GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA ops TO app_rw;

ALTER DEFAULT PRIVILEGES IN SCHEMA ops GRANT SELECT ON TABLES TO app_ro;

COMMENT ON FUNCTION ops.touch_218_1() IS 'Sets updated_at; called by triggers only';

CREATE DOMAIN ops.dom_218_4 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

CREATE TABLE IF NOT EXISTS ops.regional_218_5 (id bigint, region text NOT NULL) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS ops.regional_218_5_eu PARTITION OF ops.regional_218_5 FOR VALUES IN ('eu-west', 'eu-central');

CREATE TABLE IF NOT EXISTS ops.regional_218_5_us PARTITION OF ops.regional_218_5 FOR VALUES IN ('us-east');

COMMIT;
