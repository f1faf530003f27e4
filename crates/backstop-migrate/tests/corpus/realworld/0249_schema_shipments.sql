-- migrate:up
SET lock_timeout = '5s';

CREATE POLICY pol_249_2 ON "Tenant-Acme".workflow_runs USING (tenant_id = current_setting('app.tenant')::bigint);

-- migrate:down
SELECT 1;
