-- migrate:up
ALTER TABLE temporal.shipments ALTER COLUMN closed_at SET DEFAULT 'x';

SELECT pg_catalog.set_config('search_path', '', false);

ALTER TABLE temporal.signals DROP COLUMN IF EXISTS visibility_ts;

COMMENT ON FUNCTION temporal.touch_297_7() IS 'Sets updated_at; called by triggers only';

-- migrate:down
SELECT 1;
