-- +goose Up
SET lock_timeout = '5s';

DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql;

DO LANGUAGE 'plpgsql' $$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS x int', 'namespaces');
END
$$;

DO 'BEGIN RAISE NOTICE ''migrating signals; please wait''; END';

-- +goose Down
DROP TABLE IF EXISTS whatever;
