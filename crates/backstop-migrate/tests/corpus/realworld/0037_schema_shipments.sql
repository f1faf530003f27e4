-- +goose Up
BEGIN;

CREATE POLICY pol_37_2 ON ops.accounts USING (tenant_id = current_setting('app.tenant')::bigint);

ALTER TABLE ops.line_items ALTER COLUMN notes SET DEFAULT 'x';

COMMIT;

-- +goose Down
DROP TABLE IF EXISTS whatever;
