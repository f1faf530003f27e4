-- Migration 106: expand step
CREATE DOMAIN public.dom_106_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN dom_106_1 ADD CONSTRAINT dom_106_1_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN dom_106_1 VALIDATE CONSTRAINT dom_106_1_len;

ALTER DOMAIN public.dom_106_1 SET DEFAULT 'none';
