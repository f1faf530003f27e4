CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_320_1 ON "analytics.v2".signals (priority);
