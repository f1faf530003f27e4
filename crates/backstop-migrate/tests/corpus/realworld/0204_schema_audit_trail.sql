CREATE TYPE ops.money_pair_204_1 AS (amount numeric, currency char(3));

COMMENT ON FUNCTION ops.touch_204_2() IS 'Sets updated_at; called by triggers only';

CREATE OR REPLACE VIEW ops.v_open_204_5 AS
    SELECT id, shard_id FROM ops.tenants WHERE attempt IS NULL;

CREATE TABLE IF NOT EXISTS ops.accounts_204_6 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notes_204_7 jsonb,
    version_stamp_204_8 smallint,
    notes_204_9 inet NOT NULL DEFAULT '0.0.0.0'::inet,
    run_id_204_10 inet NOT NULL DEFAULT '0.0.0.0'::inet,
    shard_id_204_11 smallint,
    expires_at_204_12 uuid,
    CONSTRAINT accounts_204_6_chk CHECK (id > 0)
);
