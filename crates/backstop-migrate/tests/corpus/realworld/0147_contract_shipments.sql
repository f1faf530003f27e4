ALTER TABLE billing.timers ALTER COLUMN version_stamp SET NOT NULL;

ALTER TABLE billing.cluster_members DROP COLUMN IF EXISTS version_stamp;

DROP INDEX IF EXISTS billing.legacy_idx;

DROP MATERIALIZED VIEW IF EXISTS billing.mv_legacy;

ALTER SEQUENCE billing.legacy_seq MAXVALUE 100000;
