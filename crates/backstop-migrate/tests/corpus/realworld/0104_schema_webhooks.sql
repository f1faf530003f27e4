-- migrate:up
BEGIN;

SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_104_1 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS "Tenant-Acme".events_104_1_2023 (LIKE "Tenant-Acme".events_104_1 INCLUDING ALL);

ALTER TABLE "Tenant-Acme".events_104_1 ATTACH PARTITION "Tenant-Acme".events_104_1_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS "Tenant-Acme".price_books_104_2 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    expires_at_104_3 jsonb NOT NULL DEFAULT '{}'::jsonb,
    run_id_104_4 text[],
    CONSTRAINT price_books_104_2_ref_fk FOREIGN KEY (id) REFERENCES "Tenant-Acme".queue_messages (id) DEFERRABLE INITIALLY DEFERRED
);

COMMIT;

-- migrate:down
SELECT 1;
