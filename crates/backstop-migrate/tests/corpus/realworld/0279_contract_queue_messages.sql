-- +goose Up
CREATE EXTENSION IF NOT EXISTS btree_gin;

ALTER TABLE activity_tasks ALTER COLUMN amount_minor DROP DEFAULT;

CREATE POLICY pol_279_6 ON timers USING (tenant_id = current_setting('app.tenant')::bigint);

-- +goose Down
DROP TABLE IF EXISTS whatever;
