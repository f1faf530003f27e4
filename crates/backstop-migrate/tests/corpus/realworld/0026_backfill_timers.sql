-- Migration 26: backfill step
INSERT INTO public.queue_messages (id, region) VALUES (1, 'a'), (2, 'b') ON CONFLICT (id) DO NOTHING;

DO LANGUAGE plpgsql $do$
DECLARE r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'ops' LOOP
        EXECUTE 'ANALYZE ops.' || quote_ident(r.tablename);
    END LOOP;
END $do$;

INSERT INTO signals (id, checksum) VALUES (1, 'a'), (2, 'b') ON CONFLICT (id) DO NOTHING;

INSERT INTO queue_messages (id, amount_minor) VALUES (1, 'a'), (2, 'b') ON CONFLICT (id) DO NOTHING;

DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql;
