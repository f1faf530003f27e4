-- Migration 74: backfill step
SET lock_timeout = '5s';

DO LANGUAGE 'plpgsql' $$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS x int', 'timers');
END
$$;

DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql;

INSERT INTO tenant_0042.api_tokens (id, external_ref) VALUES (1, 'a'), (2, 'b') ON CONFLICT (id) DO NOTHING;

UPDATE tenant_0042.audit_trail SET attempt = 0 WHERE id BETWEEN 1 AND 10000 AND run_id IS NULL;
