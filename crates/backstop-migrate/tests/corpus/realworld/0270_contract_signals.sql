-- Migration 270: contract step
COMMENT ON INDEX idx_270_2 IS NULL;
