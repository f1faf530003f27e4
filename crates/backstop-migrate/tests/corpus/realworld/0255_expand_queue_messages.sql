-- migrate:up
ALTER TABLE "analytics.v2".workflow_runs ADD COLUMN IF NOT EXISTS attempt_255_1 numeric(14,4);

COMMENT ON COLUMN "analytics.v2".history_events.region IS E'Stored in minor units.\nNever negative.';

CREATE FUNCTION "analytics.v2".touch_updated_at_255_5() RETURNS trigger AS '
BEGIN
    NEW.note := ''it''''s done; really'';
    RETURN NEW;
END;
' LANGUAGE 'plpgsql' VOLATILE;

COMMENT ON FUNCTION "analytics.v2".touch_255_6() IS 'Sets updated_at; called by triggers only';

CREATE STATISTICS IF NOT EXISTS "analytics.v2".stx_255_9  ON currency_code, closed_at FROM "analytics.v2".ledgers;

-- migrate:down
SELECT 1;
