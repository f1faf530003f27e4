-- migrate:up
DO LANGUAGE 'plpgsql' $$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS x int', 'reservations');
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
        CREATE TYPE mood AS ENUM ('a', 'b');
    END IF;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
        CREATE TYPE mood AS ENUM ('a', 'b');
    END IF;
END
$$;

DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql;

-- migrate:down
SELECT 1;
