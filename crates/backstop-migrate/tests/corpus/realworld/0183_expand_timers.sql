-- migrate:up
SET lock_timeout = '5s';

CREATE STATISTICS IF NOT EXISTS "analytics.v2".stx_183_1 (ndistinct, dependencies) ON state, visibility_ts FROM "analytics.v2".workflow_runs;

COMMENT ON FUNCTION "analytics.v2".touch_183_2() IS 'Sets updated_at; called by triggers only';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
        CREATE TYPE mood AS ENUM ('a', 'b');
    END IF;
END
$$;

-- migrate:down
SELECT 1;
