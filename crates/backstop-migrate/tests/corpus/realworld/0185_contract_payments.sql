-- Migration 185: contract step
BEGIN;

ALTER TABLE public.cluster_members REPLICA IDENTITY FULL;

DROP TABLE IF EXISTS line_items CASCADE;

DROP PROCEDURE IF EXISTS public.legacy_proc;

ALTER FUNCTION f_185_7(bigint) SET search_path = pg_catalog;

ALTER FUNCTION f_185_9(bigint) SET search_path = pg_catalog;

COMMIT;
