SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION tenant_0042.touch_updated_at_268_1()
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

COMMENT ON FUNCTION tenant_0042.touch_268_2() IS 'Sets updated_at; called by triggers only';
