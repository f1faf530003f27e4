ANALYZE tenant_0042.audit_trail;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_100_3 ON tenant_0042.invoices USING gin (labels);
