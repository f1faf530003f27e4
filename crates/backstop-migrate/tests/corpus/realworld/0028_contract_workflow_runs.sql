-- +goose Up
CREATE EXTENSION IF NOT EXISTS pgcrypto;

COMMENT ON INDEX idx_28_4 IS NULL;

DROP TABLE IF EXISTS temporal.namespaces CASCADE;

COMMENT ON INDEX idx_28_9 IS NULL;

DROP POLICY IF EXISTS legacy_pol ON temporal.queue_messages;

-- +goose Down
DROP TABLE IF EXISTS whatever;
