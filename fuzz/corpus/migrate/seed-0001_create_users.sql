-- Users of the shop.
SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS users (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL,
    full_name  text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A new table has no readers yet: no CONCURRENTLY needed.
CREATE UNIQUE INDEX IF NOT EXISTS users_email_key ON users (lower(email));

COMMENT ON COLUMN users.full_name IS 'shown on invoices; the app calls it "name"';
