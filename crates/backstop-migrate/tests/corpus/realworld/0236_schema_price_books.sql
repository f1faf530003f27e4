-- +goose Up
CREATE TYPE temporal.status_236_1 AS ENUM ('pending', 'running', 'done');

ALTER TYPE temporal.status_236_1 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

CREATE OR REPLACE FUNCTION temporal.touch_updated_at_236_2(a integer, b integer DEFAULT 1) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 10
    RETURN a + b;

CREATE OR REPLACE FUNCTION temporal.trg_fn_236_3() RETURNS trigger LANGUAGE plpgsql AS $t$ BEGIN RETURN NEW; END $t$;

CREATE OR REPLACE TRIGGER trg_236_4 BEFORE UPDATE ON temporal.workflow_runs
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION temporal.trg_fn_236_3();

-- +goose Down
DROP TABLE IF EXISTS whatever;
