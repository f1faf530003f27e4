SET lock_timeout = '5s';

CREATE DOMAIN ops.dom_256_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN ops.dom_256_1 SET DEFAULT 'none';

CREATE TABLE IF NOT EXISTS ops.events_256_2 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS ops.events_256_2_2023 (LIKE ops.events_256_2 INCLUDING ALL);

ALTER TABLE ops.events_256_2 ATTACH PARTITION ops.events_256_2_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS ops.events_256_2_2024 (LIKE ops.events_256_2 INCLUDING ALL);

ALTER TABLE ops.events_256_2 ATTACH PARTITION ops.events_256_2_2024
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS ops.events_256_2_default PARTITION OF ops.events_256_2 DEFAULT;

ALTER TABLE ops.api_tokens ADD CONSTRAINT fk_256_3 FOREIGN KEY (closed_at) REFERENCES ops.workflow_runs (id) NOT VALID;

ALTER TABLE ops.api_tokens VALIDATE CONSTRAINT fk_256_3;

ALTER TABLE ops.api_tokens ALTER CONSTRAINT fk_256_3 DEFERRABLE INITIALLY DEFERRED;

CREATE OR REPLACE FUNCTION ops.touch_updated_at_256_4(p_id bigint) RETURNS TABLE (id bigint, label text)
    LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT p_id, 'x;y';
END;
