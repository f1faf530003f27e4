SET lock_timeout = '5s';

DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql;

DO 'BEGIN RAISE NOTICE ''migrating history_events; please wait''; END';

DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql;
