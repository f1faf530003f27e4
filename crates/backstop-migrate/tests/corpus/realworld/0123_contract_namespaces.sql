BEGIN;

SET lock_timeout = '5s';

CREATE POLICY pol_123_2 ON ops.audit_trail USING (tenant_id = current_setting('app.tenant')::bigint);

COMMIT;
