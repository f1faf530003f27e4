CREATE DOMAIN "analytics.v2".dom_211_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN "analytics.v2".dom_211_1 ADD CONSTRAINT dom_211_1_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN "analytics.v2".dom_211_1 VALIDATE CONSTRAINT dom_211_1_len;

ALTER DOMAIN "analytics.v2".dom_211_1 SET DEFAULT 'none';

ALTER TABLE "analytics.v2".ledgers ADD COLUMN IF NOT EXISTS amount_minor_211_2 boolean;
