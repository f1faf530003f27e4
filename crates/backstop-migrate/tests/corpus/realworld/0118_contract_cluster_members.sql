-- migrate:up
BEGIN;

COMMENT ON TABLE "analytics.v2".api_tokens IS 'Owned by the ops team; see runbook §4';

COMMIT;

-- migrate:down
SELECT 1;
