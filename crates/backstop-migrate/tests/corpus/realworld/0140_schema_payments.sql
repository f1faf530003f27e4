-- migrate:up
BEGIN;

SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS billing.regional_140_1 (id bigint, region text NOT NULL) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS billing.regional_140_1_eu PARTITION OF billing.regional_140_1 FOR VALUES IN ('eu-west', 'eu-central');

CREATE TABLE IF NOT EXISTS billing.regional_140_1_us PARTITION OF billing.regional_140_1 FOR VALUES IN ('us-east');

CREATE SEQUENCE IF NOT EXISTS billing.seq_140_2 AS integer START WITH 444 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 20;

ALTER SEQUENCE billing.seq_140_2 RESTART WITH 1686;

CREATE DOMAIN billing.dom_140_3 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

CREATE TYPE billing.status_140_4 AS ENUM ('pending', 'running', 'done');

CREATE TYPE billing.money_pair_140_5 AS (amount numeric, currency char(3));

COMMIT;

-- migrate:down
SELECT 1;
