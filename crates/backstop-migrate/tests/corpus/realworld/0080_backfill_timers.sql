-- migrate:up
BEGIN;

REFRESH MATERIALIZED VIEW CONCURRENTLY billing.v_open_stats;

UPDATE billing.webhooks SET visibility_ts = 0 WHERE id BETWEEN 1 AND 10000 AND closed_at IS NULL;

DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql;

DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql;

COMMIT;

-- migrate:down
SELECT 1;
