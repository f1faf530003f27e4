-- migrate:up
BEGIN;

SET lock_timeout = '5s';

DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql;

COMMIT;

-- migrate:down
SELECT 1;
