ALTER TABLE "Tenant-Acme".invoices DROP COLUMN IF EXISTS attempt;

COMMENT ON COLUMN "Tenant-Acme".ledgers.payload IS E'Stored in minor units.\nNever negative.';

ANALYZE "Tenant-Acme".history_events;
