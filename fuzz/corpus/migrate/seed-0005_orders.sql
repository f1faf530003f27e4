SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS orders (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL,
    total_cents bigint NOT NULL DEFAULT 0,
    placed_at   timestamptz NOT NULL DEFAULT now()
);

-- orders is new in this file: validating its constraints and building its index is instant.
ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total_cents >= 0);
ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
CREATE INDEX IF NOT EXISTS orders_user_id_idx ON orders (user_id);

-- users is not: these lock it.
ALTER TABLE users ADD COLUMN IF NOT EXISTS referrer_id bigint;
ALTER TABLE users ADD CONSTRAINT users_referrer_fk FOREIGN KEY (referrer_id) REFERENCES users (id);
ALTER TABLE users ADD COLUMN IF NOT EXISTS api_token uuid DEFAULT gen_random_uuid();

INSERT INTO orders (user_id, total_cents) SELECT id, 0 FROM users WHERE email LIKE '%@example.com';
