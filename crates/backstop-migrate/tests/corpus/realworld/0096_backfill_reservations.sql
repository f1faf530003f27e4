-- Migration 96: backfill step
SET lock_timeout = '5s';

REFRESH MATERIALIZED VIEW CONCURRENTLY v_open_stats;

DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql;

INSERT INTO history_events (id, closed_at) VALUES (1, 'a'), (2, 'b') ON CONFLICT (id) DO NOTHING;
