-- +goose Up
ALTER TABLE "analytics.v2".cluster_members ADD COLUMN IF NOT EXISTS currency_code_125_1 numeric(14,4);

-- +goose Down
DROP TABLE IF EXISTS whatever;
