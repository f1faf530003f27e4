BEGIN;

SET lock_timeout = '5s';

INSERT INTO tenant_0042.ledgers (id, notes) VALUES (1, 'a'), (2, 'b') ON CONFLICT (id) DO NOTHING;

REFRESH MATERIALIZED VIEW CONCURRENTLY tenant_0042.v_open_stats;

DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql;

COMMIT;
