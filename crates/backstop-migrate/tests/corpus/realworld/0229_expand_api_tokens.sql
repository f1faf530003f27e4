-- Migration 229: expand step
SET lock_timeout = '5s';

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_229_1 ON ops.signals (retry_count) WHERE display_label IS NOT NULL;
