-- migrate:up
CREATE OR REPLACE VIEW public.v_open_5_1 AS
    SELECT id, amount_minor FROM public.price_books WHERE payload IS NULL;

CREATE TABLE IF NOT EXISTS public.regional_5_2 (id bigint, region text NOT NULL) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS regional_5_2_eu PARTITION OF regional_5_2 FOR VALUES IN ('eu-west', 'eu-central');

CREATE TABLE IF NOT EXISTS public.regional_5_2_us PARTITION OF regional_5_2 FOR VALUES IN ('us-east');

GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO app_rw;

ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO app_ro;

-- migrate:down
SELECT 1;
