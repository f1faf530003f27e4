-- Migration 38: schema step
BEGIN;

CREATE OR REPLACE FUNCTION "analytics.v2".trg_fn_38_1() RETURNS trigger LANGUAGE plpgsql AS $t$ BEGIN RETURN NEW; END $t$;

CREATE OR REPLACE TRIGGER trg_38_2 BEFORE UPDATE ON "analytics.v2".accounts
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION "analytics.v2".trg_fn_38_1();

COMMENT ON SCHEMA "analytics.v2" IS 'tenant data';

CREATE TABLE IF NOT EXISTS "analytics.v2".shipments_38_6 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    amount_minor_38_7 varchar(120) NOT NULL DEFAULT 'n/a',
    closed_at_38_8 text,
    visibility_ts_38_9 bytea,
    attempt_38_10 smallint
);

COMMIT;
