CREATE SCHEMA IF NOT EXISTS temporal;

ALTER TABLE temporal.ledgers ADD COLUMN run_id_234_3 bigint NOT NULL;

DROP FUNCTION IF EXISTS temporal.legacy_fn(bigint, text);

COMMENT ON INDEX idx_234_8 IS NULL;

ALTER TABLE temporal.audit_trail ADD COLUMN IF NOT EXISTS priority_234_11 bigint REFERENCES temporal.activity_tasks (id);
