-- +goose Up
ALTER TABLE tenant_0042.namespaces OWNER TO migrator;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_134_3 ON tenant_0042.namespaces USING gin (labels) WHERE amount_minor IS NOT NULL;

-- +goose Down
DROP TABLE IF EXISTS whatever;
