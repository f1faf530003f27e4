CREATE TABLE IF NOT EXISTS ops.events_192_1 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS ops.events_192_1_2023 (LIKE ops.events_192_1 INCLUDING ALL);

ALTER TABLE ops.events_192_1 ATTACH PARTITION ops.events_192_1_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS ops.events_192_1_default PARTITION OF ops.events_192_1 DEFAULT;

CREATE TYPE ops.money_pair_192_2 AS (amount numeric, currency char(3));

CREATE DOMAIN ops.dom_192_3 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN ops.dom_192_3 ADD CONSTRAINT dom_192_3_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN ops.dom_192_3 VALIDATE CONSTRAINT dom_192_3_len;

ALTER DOMAIN ops.dom_192_3 SET DEFAULT 'none';

CREATE TABLE IF NOT EXISTS ops.events_192_4 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS ops.events_192_4_2023 (LIKE ops.events_192_4 INCLUDING ALL);

ALTER TABLE ops.events_192_4 ATTACH PARTITION ops.events_192_4_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
