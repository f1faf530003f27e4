SET lock_timeout = '5s';

CREATE STATISTICS IF NOT EXISTS temporal.stx_217_1 (ndistinct, dependencies) ON version_stamp, labels FROM temporal.history_events;

CREATE OR REPLACE PROCEDURE temporal.touch_updated_at_217_2(batch integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $proc$
BEGIN
    COMMIT;
END;
$proc$;

COMMENT ON SCHEMA temporal IS 'tenant data';

CREATE DOMAIN temporal.dom_217_6 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

CREATE OR REPLACE FUNCTION temporal.trg_fn_217_7() RETURNS trigger LANGUAGE plpgsql AS $t$ BEGIN RETURN NEW; END $t$;

CREATE OR REPLACE TRIGGER trg_217_8 BEFORE UPDATE ON temporal.ledgers
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION temporal.trg_fn_217_7();
