-- migrate:up
CREATE TYPE tenant_0042.status_258_1 AS ENUM ('pending', 'running', 'done');

ALTER TYPE tenant_0042.status_258_1 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

CREATE TABLE IF NOT EXISTS tenant_0042.regional_258_2 (id bigint, region text NOT NULL) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS tenant_0042.regional_258_2_eu PARTITION OF tenant_0042.regional_258_2 FOR VALUES IN ('eu-west', 'eu-central');

CREATE TABLE IF NOT EXISTS tenant_0042.regional_258_2_us PARTITION OF tenant_0042.regional_258_2 FOR VALUES IN ('us-east');

-- migrate:down
SELECT 1;
