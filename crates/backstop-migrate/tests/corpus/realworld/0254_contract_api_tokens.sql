BEGIN;

SET lock_timeout = '5s';

SET search_path TO ops, public;

COMMIT;
