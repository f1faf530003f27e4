SET lock_timeout = '5s';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
        CREATE TYPE mood AS ENUM ('a', 'b');
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION ops.touch_updated_at_226_1()
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
