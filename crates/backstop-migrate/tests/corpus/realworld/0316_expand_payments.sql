SET lock_timeout = '5s';

CREATE DOMAIN ops.dom_316_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN ops.dom_316_1 ADD CONSTRAINT dom_316_1_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN ops.dom_316_1 VALIDATE CONSTRAINT dom_316_1_len;

CREATE STATISTICS IF NOT EXISTS ops.stx_316_2  ON priority, closed_at FROM ops.ledgers;
