SET lock_timeout = '5s';

-- The previous release inserts users without a status: every such insert now fails.
ALTER TABLE users ADD COLUMN status text NOT NULL;
