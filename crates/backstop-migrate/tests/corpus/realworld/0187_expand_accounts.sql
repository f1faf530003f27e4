-- migrate:up
SET lock_timeout = '5s';

CREATE OR REPLACE VIEW billing.v_open_187_1 AS
    SELECT id, visibility_ts FROM billing.payments WHERE expires_at IS NULL;

CREATE SEQUENCE IF NOT EXISTS billing.seq_187_2 AS bigint START WITH 419 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 20;

ALTER SEQUENCE billing.seq_187_2 OWNED BY billing.ledgers.id;

SELECT setval('seq_187_2', (SELECT coalesce(max(id), 1) FROM billing.activity_tasks));

-- migrate:down
SELECT 1;
