-- migrate:up
BEGIN;

ALTER TABLE "analytics.v2".audit_trail RENAME COLUMN state TO state_old;

ALTER SEQUENCE "analytics.v2".legacy_seq MAXVALUE 100000;

COMMIT;

-- migrate:down
SELECT 1;
