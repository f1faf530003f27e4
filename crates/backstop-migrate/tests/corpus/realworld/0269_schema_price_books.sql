-- migrate:up
SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS tenant_0042.regional_269_1 (id bigint, region text NOT NULL) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS tenant_0042.regional_269_1_eu PARTITION OF tenant_0042.regional_269_1 FOR VALUES IN ('eu-west', 'eu-central');

CREATE TABLE IF NOT EXISTS tenant_0042.regional_269_1_us PARTITION OF tenant_0042.regional_269_1 FOR VALUES IN ('us-east');

-- migrate:down
SELECT 1;
