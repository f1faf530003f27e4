-- Migration 110: contract step
SET lock_timeout = '5s';

ALTER TABLE tenant_0042.tenants DETACH PARTITION tenant_0042.tenants_2023;

ALTER TYPE tenant_0042.status RENAME TO run_status;

ALTER TABLE tenant_0042.queue_messages ENABLE ROW LEVEL SECURITY;
