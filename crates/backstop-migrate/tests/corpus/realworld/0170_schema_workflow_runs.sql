BEGIN;

SET lock_timeout = '5s';

CREATE STATISTICS IF NOT EXISTS "analytics.v2".stx_170_1 (ndistinct, dependencies) ON shard_id, region FROM "analytics.v2".audit_trail;

CREATE OR REPLACE FUNCTION "analytics.v2".touch_updated_at_170_2(p_id bigint) RETURNS TABLE (id bigint, label text)
    LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT p_id, 'x;y';
END;

CREATE TABLE IF NOT EXISTS "analytics.v2".regional_170_3 (id bigint, region text NOT NULL) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS "analytics.v2".regional_170_3_eu PARTITION OF "analytics.v2".regional_170_3 FOR VALUES IN ('eu-west', 'eu-central');

CREATE TABLE IF NOT EXISTS "analytics.v2".regional_170_3_us PARTITION OF "analytics.v2".regional_170_3 FOR VALUES IN ('us-east');

COMMIT;
