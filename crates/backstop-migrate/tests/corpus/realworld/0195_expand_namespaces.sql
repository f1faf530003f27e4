-- Migration 195: expand step
DO 'BEGIN RAISE NOTICE ''migrating accounts; please wait''; END';

CREATE TYPE ops.status_195_1 AS ENUM ('pending', 'running', 'done');

ALTER TYPE ops.status_195_1 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql;
