CREATE TABLE IF NOT EXISTS "analytics.v2".regional_20_1 (id bigint, region text NOT NULL) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS "analytics.v2".regional_20_1_eu PARTITION OF "analytics.v2".regional_20_1 FOR VALUES IN ('eu-west', 'eu-central');

CREATE TABLE IF NOT EXISTS "analytics.v2".regional_20_1_us PARTITION OF "analytics.v2".regional_20_1 FOR VALUES IN ('us-east');

CREATE TABLE IF NOT EXISTS "analytics.v2".invoices_20_2 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shard_id_20_3 smallint,
    shard_id_20_4 timestamptz,
    owner_ref_20_5 timestamptz NOT NULL DEFAULT now(),
    payload_20_6 jsonb,
    region_20_7 numeric(14,4),
    currency_code_20_8 boolean NOT NULL DEFAULT false
);
