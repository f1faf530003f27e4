-- Contract: v2.4 reads and writes only users.name, and v2.3 (the last release that
-- wrote full_name) is no longer a rollback target.
SET lock_timeout = '5s';

DROP TRIGGER IF EXISTS users_sync_name ON users;
DROP FUNCTION IF EXISTS users_sync_name();

-- NOT NULL without the long scan: a validated check first, then SET NOT NULL uses it.
ALTER TABLE users ADD CONSTRAINT users_name_not_null CHECK (name IS NOT NULL) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT users_name_not_null;
ALTER TABLE users ALTER COLUMN name SET NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_name_not_null;

-- backstop:allow dropping-column v2.4 no longer reads full_name and v2.3 is not a rollback target
ALTER TABLE users DROP COLUMN full_name;
