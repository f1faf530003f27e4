-- Migration 136: expand step
ALTER TABLE temporal.tenants ADD COLUMN IF NOT EXISTS expires_at_136_1 varchar(120) DEFAULT 'n/a';

CREATE OR REPLACE PROCEDURE temporal.touch_updated_at_136_2(batch integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $proc$
BEGIN
    COMMIT;
END;
$proc$;

CREATE OR REPLACE FUNCTION temporal.touch_updated_at_136_3()
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

CREATE DOMAIN temporal.dom_136_4 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN temporal.dom_136_4 ADD CONSTRAINT dom_136_4_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN temporal.dom_136_4 VALIDATE CONSTRAINT dom_136_4_len;
