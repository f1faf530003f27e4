-- migrate:up
SET lock_timeout = '5s';

ALTER VIEW billing.v_open RENAME TO v_open_old;

COMMENT ON CONSTRAINT fk_24_5 ON billing.history_events IS 'it''s deferrable on purpose';

CREATE POLICY pol_24_7 ON billing.signals USING (tenant_id = current_setting('app.tenant')::bigint);

ALTER TABLE billing.signals ALTER COLUMN owner_ref SET DEFAULT 'x';

-- migrate:down
SELECT 1;
