SET lock_timeout = '5s';

-- backstop:allow dropping-table
DROP TABLE IF EXISTS legacy_prices;

-- backstop:allow renaming-table the old name is gone since v1.9
ALTER TABLE products ADD COLUMN IF NOT EXISTS archived_at timestamptz;

-- backstop:allow truncate-cascde the views are recomputed nightly
TRUNCATE product_views CASCADE;

VACUUM FULL products; -- backstop:allow vacuum-full runs in the Sunday maintenance window

CLUSTER products USING products_pkey;
