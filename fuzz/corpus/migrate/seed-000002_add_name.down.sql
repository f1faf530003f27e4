DROP TRIGGER IF EXISTS users_sync_name ON users;
DROP FUNCTION IF EXISTS users_sync_name();
ALTER TABLE users DROP COLUMN IF EXISTS name;
