-- migrate:up
SET lock_timeout = '5s';

WITH moved AS (DELETE FROM history_events WHERE closed_at < now() - interval '90 days' RETURNING *)
    INSERT INTO ledgers SELECT * FROM moved;

WITH moved AS (DELETE FROM accounts WHERE closed_at < now() - interval '90 days' RETURNING *)
    INSERT INTO public.accounts SELECT * FROM moved;

REFRESH MATERIALIZED VIEW CONCURRENTLY public.v_open_stats;

-- migrate:down
SELECT 1;
