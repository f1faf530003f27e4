-- +goose Up
BEGIN;

SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION ops.trg_fn_50_1() RETURNS trigger LANGUAGE plpgsql AS $t$ BEGIN RETURN NEW; END $t$;

CREATE OR REPLACE TRIGGER trg_50_2 BEFORE UPDATE ON ops.payments
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION ops.trg_fn_50_1();

CREATE TYPE ops.money_pair_50_3 AS (amount numeric, currency char(3));

GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA ops TO app_rw;

ALTER DEFAULT PRIVILEGES IN SCHEMA ops GRANT SELECT ON TABLES TO app_ro;

COMMENT ON CONSTRAINT fk_50_6 ON ops.tenants IS 'it''s deferrable on purpose';

COMMIT;

-- +goose Down
DROP TABLE IF EXISTS whatever;
