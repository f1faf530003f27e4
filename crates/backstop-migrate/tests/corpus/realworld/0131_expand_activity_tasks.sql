CREATE MATERIALIZED VIEW IF NOT EXISTS "analytics.v2".v_open_131_1 AS
    SELECT id, visibility_ts FROM "analytics.v2".namespaces WHERE version_stamp IS NULL;

CREATE UNIQUE INDEX IF NOT EXISTS mv_idx_131_2 ON "analytics.v2".v_open_131_1 (id);

CREATE DOMAIN "analytics.v2".dom_131_3 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');
