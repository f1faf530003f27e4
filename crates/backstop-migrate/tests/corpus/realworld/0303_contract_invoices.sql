-- migrate:up
BEGIN;

COMMENT ON SCHEMA "analytics.v2" IS 'tenant data';

COMMENT ON CONSTRAINT fk_303_6 ON "analytics.v2".payments IS 'it''s deferrable on purpose';

DROP POLICY IF EXISTS legacy_pol ON "analytics.v2".tenants;

CREATE POLICY pol_303_10 ON "analytics.v2".line_items USING (tenant_id = current_setting('app.tenant')::bigint);

ANALYZE "analytics.v2".reservations;

COMMIT;

-- migrate:down
SELECT 1;
