-- +goose Up
SET lock_timeout = '5s';

ALTER TABLE tenant_0042.invoices SET SCHEMA archive;

ALTER TYPE tenant_0042.status RENAME VALUE 'done' TO 'completed';

COMMENT ON COLUMN tenant_0042.payments.labels IS E'Stored in minor units.\nNever negative.';

ALTER TABLE tenant_0042.invoices RENAME COLUMN region TO region_old;

ALTER TYPE tenant_0042.status RENAME VALUE 'done' TO 'completed';

-- +goose Down
DROP TABLE IF EXISTS whatever;
