-- Migration 45: contract step
BEGIN;

SET lock_timeout = '5s';

DROP INDEX IF EXISTS "analytics.v2".legacy_idx;

COMMENT ON COLUMN "analytics.v2".cluster_members.shard_id IS E'Stored in minor units.\nNever negative.';

ALTER TABLE "analytics.v2".api_tokens ALTER COLUMN amount_minor SET STATISTICS 500;

COMMIT;
