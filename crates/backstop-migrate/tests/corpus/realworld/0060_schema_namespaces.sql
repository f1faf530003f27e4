SET lock_timeout = '5s';

CREATE OR REPLACE VIEW tenant_0042.v_open_60_1 AS
    SELECT id, run_id FROM tenant_0042.history_events WHERE version_stamp IS NULL;

COMMENT ON TABLE tenant_0042.signals IS 'Owned by the billing team; see runbook §4';
