-- migrate:up
BEGIN;

SET lock_timeout = '5s';

REFRESH MATERIALIZED VIEW CONCURRENTLY temporal.v_open_stats;

INSERT INTO temporal.line_items (id, retry_count) VALUES (1, 'a'), (2, 'b') ON CONFLICT (id) DO NOTHING;

COMMIT;

-- migrate:down
SELECT 1;
