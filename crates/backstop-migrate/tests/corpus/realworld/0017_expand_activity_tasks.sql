-- migrate:up
SET lock_timeout = '5s';

ALTER TABLE tenant_0042.accounts ADD COLUMN IF NOT EXISTS labels_17_1 timestamptz;

CREATE TYPE tenant_0042.status_17_2 AS ENUM ('pending', 'running', 'done');

ALTER TYPE tenant_0042.status_17_2 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

-- migrate:down
SELECT 1;
