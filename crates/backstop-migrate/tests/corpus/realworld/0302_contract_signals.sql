SET lock_timeout = '5s';

ALTER INDEX legacy_idx RENAME TO legacy_idx_old;

SET LOCAL statement_timeout = '30s';

COMMENT ON CONSTRAINT fk_302_7 ON audit_trail IS 'it''s deferrable on purpose';

ALTER TABLE invoices ALTER COLUMN owner_ref TYPE bigint USING owner_ref::bigint;

COMMENT ON COLUMN activity_tasks.owner_ref IS E'Stored in minor units.\nNever negative.';
