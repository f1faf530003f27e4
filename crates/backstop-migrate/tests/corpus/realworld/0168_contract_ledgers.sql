-- Migration 168: contract step
BEGIN;

SET lock_timeout = '5s';

ALTER SEQUENCE "Tenant-Acme".legacy_seq AS integer;

COMMIT;
