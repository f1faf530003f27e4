SET lock_timeout = '5s';

CREATE SEQUENCE IF NOT EXISTS seq_130_1 AS bigint START WITH 193 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;

ALTER SEQUENCE seq_130_1 RESTART WITH 4692;

SELECT setval('seq_130_1', (SELECT coalesce(max(id), 1) FROM payments));

COMMENT ON COLUMN invoices.currency_code IS E'Stored in minor units.\nNever negative.';

ALTER TABLE line_items ADD CONSTRAINT fk_130_5 FOREIGN KEY (region) REFERENCES audit_trail (id) NOT VALID;

ALTER TABLE line_items VALIDATE CONSTRAINT fk_130_5;

ALTER TABLE line_items ALTER CONSTRAINT fk_130_5 DEFERRABLE INITIALLY DEFERRED;

CREATE DOMAIN public.dom_130_6 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');
