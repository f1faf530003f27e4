-- +goose Up
SET lock_timeout = '5s';

CREATE DOMAIN dom_309_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN public.dom_309_1 ADD CONSTRAINT dom_309_1_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN dom_309_1 VALIDATE CONSTRAINT dom_309_1_len;

CREATE OR REPLACE FUNCTION public.trg_fn_309_2() RETURNS trigger LANGUAGE plpgsql AS $t$ BEGIN RETURN NEW; END $t$;

CREATE OR REPLACE TRIGGER trg_309_3 BEFORE UPDATE ON public.tenants
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION public.trg_fn_309_2();

CREATE DOMAIN dom_309_4 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN public.dom_309_4 ADD CONSTRAINT dom_309_4_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN dom_309_4 VALIDATE CONSTRAINT dom_309_4_len;

CREATE OR REPLACE PROCEDURE touch_updated_at_309_5(batch integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $proc$
BEGIN
    COMMIT;
END;
$proc$;

SELECT pg_catalog.set_config('search_path', '', false);

-- +goose Down
DROP TABLE IF EXISTS whatever;
