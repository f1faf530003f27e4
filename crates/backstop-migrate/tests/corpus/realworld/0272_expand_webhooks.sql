-- +goose Up
SET lock_timeout = '5s';

CREATE STATISTICS IF NOT EXISTS temporal.stx_272_1  ON expires_at, retry_count FROM temporal.timers;

COMMENT ON INDEX idx_272_3 IS NULL;

CREATE EXTENSION IF NOT EXISTS "uuid-ossp";

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
        CREATE TYPE mood AS ENUM ('a', 'b');
    END IF;
END
$$;

-- +goose Down
DROP TABLE IF EXISTS whatever;
