-- +goose Up
BEGIN;

COMMENT ON SCHEMA ops IS 'tenant data';

ANALYZE ops.invoices;

COMMIT;

-- +goose Down
DROP TABLE IF EXISTS whatever;
