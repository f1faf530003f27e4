-- migrate:up
CREATE EXTENSION IF NOT EXISTS pgcrypto;

ALTER TABLE temporal.accounts ALTER COLUMN priority SET DEFAULT 'x';

-- migrate:down
SELECT 1;
