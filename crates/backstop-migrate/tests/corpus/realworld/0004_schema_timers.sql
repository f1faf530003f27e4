CREATE TABLE IF NOT EXISTS temporal.regional_4_1 (id bigint, region text NOT NULL) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS temporal.regional_4_1_eu PARTITION OF temporal.regional_4_1 FOR VALUES IN ('eu-west', 'eu-central');

CREATE TABLE IF NOT EXISTS temporal.regional_4_1_us PARTITION OF temporal.regional_4_1 FOR VALUES IN ('us-east');

CREATE OR REPLACE PROCEDURE temporal.touch_updated_at_4_2(batch integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $proc$
BEGIN
    COMMIT;
END;
$proc$;
