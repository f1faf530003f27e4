SET lock_timeout = '5s';

REFRESH MATERIALIZED VIEW CONCURRENTLY temporal.v_open_stats;

WITH moved AS (DELETE FROM temporal.timers WHERE closed_at < now() - interval '90 days' RETURNING *)
    INSERT INTO temporal.history_events SELECT * FROM moved;
