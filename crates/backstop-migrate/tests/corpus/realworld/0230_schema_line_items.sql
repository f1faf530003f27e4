-- migrate:up
SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS "analytics.v2".audit_trail_230_1 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    display_label_230_2 bigint,
    region_230_3 bigint,
    priority_230_4 text[] NOT NULL DEFAULT '{}'::text[],
    display_label_230_5 bytea,
    CONSTRAINT audit_trail_230_1_chk CHECK (id > 0)
);

CREATE TABLE IF NOT EXISTS "analytics.v2".regional_230_6 (id bigint, region text NOT NULL) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS "analytics.v2".regional_230_6_eu PARTITION OF "analytics.v2".regional_230_6 FOR VALUES IN ('eu-west', 'eu-central');

CREATE TABLE IF NOT EXISTS "analytics.v2".regional_230_6_us PARTITION OF "analytics.v2".regional_230_6 FOR VALUES IN ('us-east');

-- migrate:down
SELECT 1;
