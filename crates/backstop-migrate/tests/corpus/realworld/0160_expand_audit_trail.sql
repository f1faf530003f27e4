-- +goose Up
ALTER TABLE "Tenant-Acme".invoices ADD COLUMN IF NOT EXISTS display_label_160_1 numeric(14,4) DEFAULT 0;

-- +goose Down
DROP TABLE IF EXISTS whatever;
