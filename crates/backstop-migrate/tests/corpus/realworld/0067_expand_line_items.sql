-- +goose Up
ALTER TABLE tenant_0042.reservations ADD COLUMN IF NOT EXISTS version_stamp_67_1 jsonb DEFAULT '{}'::jsonb;

ALTER TABLE tenant_0042.payments ALTER COLUMN shard_id SET DEFAULT 'x';

DO LANGUAGE 'plpgsql' $$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS x int', 'price_books');
END
$$;

CREATE TYPE tenant_0042.status_67_4 AS ENUM ('pending', 'running', 'done');

-- +goose Down
DROP TABLE IF EXISTS whatever;
