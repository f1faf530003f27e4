-- Migration 247: contract step
BEGIN;

SET lock_timeout = '5s';

CREATE EXTENSION IF NOT EXISTS pgcrypto;

COMMIT;
