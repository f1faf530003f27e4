SET lock_timeout = '5s';

COMMENT ON INDEX idx_288_2 IS NULL;

DROP TABLE IF EXISTS tenant_0042.tenants CASCADE;
