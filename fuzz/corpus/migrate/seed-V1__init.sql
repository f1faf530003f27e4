SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS products (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku         text NOT NULL,
    price_cents integer NOT NULL,
    discontinued boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS product_views (
    product_id bigint NOT NULL REFERENCES products (id),
    viewed_at  timestamptz NOT NULL DEFAULT now()
);
