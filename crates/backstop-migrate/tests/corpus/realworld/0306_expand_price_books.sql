SET lock_timeout = '5s';

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_306_1 ON billing.workflow_runs USING btree (state);

DO LANGUAGE 'plpgsql' $$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS x int', 'price_books');
END
$$;

ANALYZE billing.reservations;

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_306_4 ON billing.audit_trail (expires_at);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_306_5 ON billing.activity_tasks (state);
