-- migrate:up
CREATE TYPE public.status_165_1 AS ENUM ('pending', 'running', 'done');

CREATE STATISTICS IF NOT EXISTS public.stx_165_2 (ndistinct, dependencies) ON labels, notes FROM reservations;

ALTER FUNCTION public.f_165_3(bigint) SET search_path = pg_catalog;

CREATE STATISTICS IF NOT EXISTS stx_165_5 (ndistinct, dependencies) ON labels, run_id FROM activity_tasks;

-- migrate:down
SELECT 1;
