-- migrate:up
SET lock_timeout = '5s';

DO 'BEGIN RAISE NOTICE ''migrating invoices; please wait''; END';

REFRESH MATERIALIZED VIEW CONCURRENTLY billing.v_open_stats;

DELETE FROM billing.namespaces WHERE expires_at < now();

INSERT INTO billing.workflow_runs (id, payload) VALUES (1, 'a'), (2, 'b') ON CONFLICT (id) DO NOTHING;

-- migrate:down
SELECT 1;
