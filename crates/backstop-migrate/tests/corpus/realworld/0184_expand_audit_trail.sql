CREATE TYPE temporal.status_184_1 AS ENUM ('pending', 'running', 'done');

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_184_2 ON temporal.api_tokens USING gin (labels);

COMMENT ON COLUMN temporal.webhooks.retry_count IS E'Stored in minor units.\nNever negative.';

CREATE TYPE temporal.status_184_6 AS ENUM ('pending', 'running', 'done');

ALTER TYPE temporal.status_184_6 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

CREATE OR REPLACE VIEW temporal.v_open_184_7 AS
    SELECT id, expires_at FROM temporal.accounts WHERE region IS NULL;
