-- +goose Up
CREATE TYPE "analytics.v2".status_148_1 AS ENUM ('pending', 'running', 'done');

ALTER TYPE "analytics.v2".status_148_1 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

-- +goose Down
DROP TABLE IF EXISTS whatever;
