SET lock_timeout = '5s';

CREATE EXTENSION IF NOT EXISTS "uuid-ossp";

COMMENT ON SCHEMA temporal IS 'tenant data';

DROP VIEW IF EXISTS temporal.v_legacy;
