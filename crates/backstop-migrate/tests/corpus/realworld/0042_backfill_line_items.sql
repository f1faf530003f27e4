DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql;

DO 'BEGIN RAISE NOTICE ''migrating timers; please wait''; END';

INSERT INTO tenant_0042.payments (id, closed_at) VALUES (1, 'a'), (2, 'b') ON CONFLICT (id) DO NOTHING;
