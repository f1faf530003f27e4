-- +goose Up
BEGIN;

SET lock_timeout = '5s';

ALTER TABLE ops.invoices ALTER COLUMN display_label SET NOT NULL;

ALTER TABLE ops.timers ADD COLUMN external_ref_245_3 bigint NOT NULL;

ANALYZE ops.invoices;

ALTER TABLE ops.signals DETACH PARTITION ops.signals_2023;

COMMENT ON INDEX idx_245_10 IS NULL;

COMMIT;

-- +goose Down
DROP TABLE IF EXISTS whatever;
