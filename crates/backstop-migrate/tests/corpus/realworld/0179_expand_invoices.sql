ALTER TABLE public.tenants SET (autovacuum_vacuum_scale_factor = 0.02, fillfactor = 90);

CREATE SCHEMA IF NOT EXISTS public;

COMMENT ON TABLE reservations IS 'Owned by the billing team; see runbook §4';

CREATE TYPE status_179_8 AS ENUM ('pending', 'running', 'done');

ALTER TYPE public.status_179_8 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';
