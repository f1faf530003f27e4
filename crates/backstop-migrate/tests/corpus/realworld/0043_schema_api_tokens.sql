-- migrate:up
CREATE TABLE IF NOT EXISTS billing.regional_43_1 (id bigint, region text NOT NULL) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS billing.regional_43_1_eu PARTITION OF billing.regional_43_1 FOR VALUES IN ('eu-west', 'eu-central');

CREATE TABLE IF NOT EXISTS billing.regional_43_1_us PARTITION OF billing.regional_43_1 FOR VALUES IN ('us-east');

CREATE MATERIALIZED VIEW IF NOT EXISTS billing.v_open_43_2 AS
    SELECT id, checksum FROM billing.tenants WHERE checksum IS NULL;

CREATE UNIQUE INDEX IF NOT EXISTS mv_idx_43_3 ON billing.v_open_43_2 (id);

CREATE OR REPLACE PROCEDURE billing.touch_updated_at_43_4(batch integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $proc$
BEGIN
    COMMIT;
END;
$proc$;

CREATE OR REPLACE FUNCTION billing.touch_updated_at_43_5()
 RETURNS trigger
 LANGUAGE plpgsql
 COST 100
AS $function$
DECLARE
    n integer;
BEGIN
    SELECT count(*) INTO n FROM pg_class WHERE relname = 'x;y';
    RAISE NOTICE 'count: %', n;
    RETURN NEW;
END
$function$;

-- migrate:down
SELECT 1;
