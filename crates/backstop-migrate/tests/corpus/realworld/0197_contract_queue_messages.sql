-- +goose Up
SET lock_timeout = '5s';

DROP POLICY IF EXISTS legacy_pol ON ops.tenants;

ALTER FUNCTION ops.f_197_3(bigint) SET search_path = pg_catalog;

ALTER INDEX ops.legacy_idx RENAME TO legacy_idx_old;

-- +goose Down
DROP TABLE IF EXISTS whatever;
