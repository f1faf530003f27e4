BEGIN;

COMMENT ON TABLE "Tenant-Acme".invoices IS 'Owned by the billing team; see runbook §4';

COMMENT ON FUNCTION "Tenant-Acme".touch_33_4() IS 'Sets updated_at; called by triggers only';

ALTER TABLE "Tenant-Acme".price_books ALTER COLUMN amount_minor DROP DEFAULT;

COMMENT ON INDEX idx_33_10 IS NULL;

COMMIT;
