SET lock_timeout = '5s';

ALTER TABLE "analytics.v2".line_items DROP COLUMN IF EXISTS shard_id;

SELECT pg_catalog.set_config('search_path', '', false);
