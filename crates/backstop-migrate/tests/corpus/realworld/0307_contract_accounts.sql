-- migrate:up
SET lock_timeout = '5s';

SET LOCAL statement_timeout = '30s';

ALTER TABLE tenant_0042.history_events ENABLE ROW LEVEL SECURITY;

COMMENT ON SCHEMA tenant_0042 IS 'tenant data';

ALTER DOMAIN tenant_0042.legacy_dom DROP DEFAULT;

-- migrate:down
SELECT 1;
