-- +goose Up
SET lock_timeout = '5s';

SET LOCAL statement_timeout = '30s';

CREATE SCHEMA IF NOT EXISTS temporal;

DROP POLICY IF EXISTS legacy_pol ON temporal.queue_messages;

ALTER SEQUENCE temporal.legacy_seq MAXVALUE 100000;

ANALYZE temporal.payments;

-- +goose Down
DROP TABLE IF EXISTS whatever;
