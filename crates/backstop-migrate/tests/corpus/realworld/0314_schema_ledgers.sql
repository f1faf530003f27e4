-- +goose Up
CREATE TABLE IF NOT EXISTS regional_314_1 (id bigint, region text NOT NULL) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS public.regional_314_1_eu PARTITION OF public.regional_314_1 FOR VALUES IN ('eu-west', 'eu-central');

CREATE TABLE IF NOT EXISTS regional_314_1_us PARTITION OF public.regional_314_1 FOR VALUES IN ('us-east');

CREATE TYPE money_pair_314_2 AS (amount numeric, currency char(3));

CREATE TYPE money_pair_314_3 AS (amount numeric, currency char(3));

-- +goose Down
DROP TABLE IF EXISTS whatever;
