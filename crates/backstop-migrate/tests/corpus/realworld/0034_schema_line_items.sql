-- +goose Up
SET lock_timeout = '5s';

CREATE OR REPLACE VIEW v_open_34_1 AS
    SELECT id, checksum FROM public.audit_trail WHERE display_label IS NULL;

CREATE TABLE public.audit_trail_34_2 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visibility_ts_34_3 bigint NOT NULL DEFAULT 0,
    version_stamp_34_4 boolean,
    checksum_34_5 bytea NOT NULL DEFAULT '\x'::bytea
);

CREATE TYPE public.status_34_6 AS ENUM ('pending', 'running', 'done');

ALTER TYPE status_34_6 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

CREATE TYPE public.status_34_7 AS ENUM ('pending', 'running', 'done');

ALTER TYPE status_34_7 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

CREATE TYPE money_pair_34_8 AS (amount numeric, currency char(3));

-- +goose Down
DROP TABLE IF EXISTS whatever;
