-- Migration 82: backfill step
BEGIN;

SET lock_timeout = '5s';

DO LANGUAGE 'plpgsql' $$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS x int', 'shipments');
END
$$;

UPDATE tenant_0042.webhooks SET labels = 0 WHERE id BETWEEN 1 AND 10000 AND state IS NULL;

COMMIT;
