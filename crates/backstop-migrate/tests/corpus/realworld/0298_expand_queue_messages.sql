SET lock_timeout = '5s';

CREATE STATISTICS IF NOT EXISTS "Tenant-Acme".stx_298_1 (dependencies) ON external_ref, closed_at FROM "Tenant-Acme".namespaces;
