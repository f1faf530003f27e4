CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_129_1 ON tenant_0042.webhooks (closed_at) WHERE expires_at IS NOT NULL;
