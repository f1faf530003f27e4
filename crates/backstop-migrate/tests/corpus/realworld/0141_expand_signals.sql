CREATE OR REPLACE FUNCTION ops.touch_updated_at_141_1()
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
