CREATE TYPE ops.status_191_1 AS ENUM ('pending', 'running', 'done');

ALTER TYPE ops.status_191_1 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

CREATE TYPE ops.status_191_2 AS ENUM ('pending', 'running', 'done');

CREATE TABLE ops.webhooks_191_3 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version_stamp_191_4 integer,
    region_191_5 bigint,
    CONSTRAINT webhooks_191_3_chk CHECK (id > 0)
);

CREATE TABLE IF NOT EXISTS ops.history_events_191_6 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    closed_at_191_7 jsonb NOT NULL DEFAULT '{}'::jsonb,
    closed_at_191_8 bytea,
    amount_minor_191_9 integer,
    visibility_ts_191_10 smallint NOT NULL DEFAULT 1,
    region_191_11 text,
    shard_id_191_12 inet
);

CREATE OR REPLACE FUNCTION ops.trg_fn_191_13() RETURNS trigger LANGUAGE plpgsql AS $t$ BEGIN RETURN NEW; END $t$;

CREATE OR REPLACE TRIGGER trg_191_14 BEFORE UPDATE ON ops.activity_tasks
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION ops.trg_fn_191_13();
