-- Migration 283: expand step
ALTER TABLE billing.line_items ADD CONSTRAINT fk_283_1 FOREIGN KEY (closed_at) REFERENCES billing.shipments (id) NOT VALID;

ALTER TABLE billing.line_items VALIDATE CONSTRAINT fk_283_1;

ALTER TABLE billing.line_items ALTER CONSTRAINT fk_283_1 DEFERRABLE INITIALLY DEFERRED;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
        CREATE TYPE mood AS ENUM ('a', 'b');
    END IF;
END
$$;

CREATE DOMAIN billing.dom_283_2 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN billing.dom_283_2 ADD CONSTRAINT dom_283_2_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN billing.dom_283_2 VALIDATE CONSTRAINT dom_283_2_len;

CREATE STATISTICS IF NOT EXISTS billing.stx_283_3 (mcv) ON visibility_ts, amount_minor FROM billing.price_books;
