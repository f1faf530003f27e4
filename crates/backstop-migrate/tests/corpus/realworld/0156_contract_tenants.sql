SET lock_timeout = '5s';

COMMENT ON COLUMN ops.namespaces.checksum IS E'Stored in minor units.\nNever negative.';

DROP INDEX IF EXISTS ops.legacy_idx;

CREATE POLICY pol_156_7 ON ops.price_books USING (tenant_id = current_setting('app.tenant')::bigint);

ALTER VIEW ops.v_open RENAME TO v_open_old;
