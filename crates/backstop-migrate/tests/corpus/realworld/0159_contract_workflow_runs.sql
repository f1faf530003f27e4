COMMENT ON FUNCTION billing.touch_159_1() IS 'Sets updated_at; called by triggers only';

COMMENT ON SCHEMA billing IS 'tenant data';

COMMENT ON COLUMN billing.shipments.display_label IS E'Stored in minor units.\nNever negative.';

ALTER SEQUENCE billing.legacy_seq MAXVALUE 100000;

DROP POLICY IF EXISTS legacy_pol ON billing.webhooks;
