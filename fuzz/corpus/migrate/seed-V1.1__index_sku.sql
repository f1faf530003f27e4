-- Fails at run time: CONCURRENTLY cannot run inside a transaction block.
BEGIN;
CREATE INDEX CONCURRENTLY IF NOT EXISTS products_sku_idx ON products (sku);
COMMIT;
