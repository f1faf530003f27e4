-- +goose Up
SET lock_timeout = '5s';

CREATE TYPE status_128_1 AS ENUM ('pending', 'running', 'done');

CREATE TABLE IF NOT EXISTS regional_128_2 (id bigint, region text NOT NULL) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS public.regional_128_2_eu PARTITION OF public.regional_128_2 FOR VALUES IN ('eu-west', 'eu-central');

CREATE TABLE IF NOT EXISTS regional_128_2_us PARTITION OF public.regional_128_2 FOR VALUES IN ('us-east');

GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO app_rw;

ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO app_ro;

-- +goose Down
DROP TABLE IF EXISTS whatever;
