SET lock_timeout = '5s';

SET search_path TO "analytics.v2", public;

ALTER TABLE "analytics.v2".tenants ALTER COLUMN region TYPE bigint USING region::bigint;
