SET lock_timeout = '5s';

-- Blocks every insert and update of users while the index builds.
CREATE INDEX users_created_at_idx ON users (created_at);
