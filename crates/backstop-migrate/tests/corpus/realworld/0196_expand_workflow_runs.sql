-- +goose Up
CREATE TYPE temporal.status_196_1 AS ENUM ('pending', 'running', 'done');

ALTER TYPE temporal.status_196_1 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
        CREATE TYPE mood AS ENUM ('a', 'b');
    END IF;
END
$$;

-- +goose Down
DROP TABLE IF EXISTS whatever;
