BEGIN;

SET lock_timeout = '5s';

ALTER TABLE ops.namespaces DROP COLUMN IF EXISTS checksum;

ALTER TABLE ops.cluster_members ALTER COLUMN visibility_ts DROP DEFAULT;

COMMENT ON TABLE ops.cluster_members IS 'Owned by the billing team; see runbook §4';

COMMIT;
