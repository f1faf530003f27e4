-- migrate:up
BEGIN;

SET lock_timeout = '5s';

COMMENT ON COLUMN ops.api_tokens.payload IS E'Stored in minor units.\nNever negative.';

CREATE SCHEMA IF NOT EXISTS ops;

COMMENT ON COLUMN ops.reservations.attempt IS E'Stored in minor units.\nNever negative.';

DROP INDEX IF EXISTS ops.legacy_idx;

COMMIT;

-- migrate:down
SELECT 1;
