-- migrate:up
SET lock_timeout = '5s';

COMMENT ON FUNCTION "analytics.v2".touch_93_1() IS 'Sets updated_at; called by triggers only';

ALTER TABLE "analytics.v2".queue_messages DETACH PARTITION "analytics.v2".queue_messages_2023;

CREATE POLICY pol_93_7 ON "analytics.v2".queue_messages USING (tenant_id = current_setting('app.tenant')::bigint);

ALTER INDEX "analytics.v2".legacy_idx RENAME TO legacy_idx_old;

ALTER FUNCTION "analytics.v2".f_93_10(bigint) SET search_path = pg_catalog;

-- migrate:down
SELECT 1;
