-- Migration 36: contract step
BEGIN;

DROP FUNCTION IF EXISTS ops.legacy_fn(bigint, text);

COMMIT;
