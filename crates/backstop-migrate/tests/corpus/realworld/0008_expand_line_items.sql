SET lock_timeout = '5s';

ALTER TABLE billing.cluster_members ADD COLUMN IF NOT EXISTS region_8_1 smallint;

CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
