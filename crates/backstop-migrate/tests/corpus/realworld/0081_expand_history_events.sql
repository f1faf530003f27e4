CREATE DOMAIN "Tenant-Acme".dom_81_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN "Tenant-Acme".dom_81_1 SET DEFAULT 'none';

CREATE DOMAIN "Tenant-Acme".dom_81_2 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_81_3 ON "Tenant-Acme".queue_messages (expires_at);

ALTER TABLE "Tenant-Acme".signals ADD COLUMN IF NOT EXISTS closed_at_81_4 jsonb DEFAULT '{}'::jsonb;
