SET LOCAL statement_timeout = '30s';

CREATE DOMAIN "analytics.v2".dom_242_3 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN "analytics.v2".dom_242_3 ADD CONSTRAINT dom_242_3_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN "analytics.v2".dom_242_3 VALIDATE CONSTRAINT dom_242_3_len;
