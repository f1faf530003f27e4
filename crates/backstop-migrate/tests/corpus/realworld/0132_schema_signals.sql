-- migrate:up
SET lock_timeout = '5s';

CREATE DOMAIN temporal.dom_132_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN temporal.dom_132_1 ADD CONSTRAINT dom_132_1_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN temporal.dom_132_1 VALIDATE CONSTRAINT dom_132_1_len;

ALTER DOMAIN temporal.dom_132_1 SET DEFAULT 'none';

CREATE TYPE temporal.status_132_2 AS ENUM ('pending', 'running', 'done');

ALTER TYPE temporal.status_132_2 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

-- migrate:down
SELECT 1;
