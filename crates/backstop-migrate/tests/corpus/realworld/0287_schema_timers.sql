-- Migration 287: schema step
BEGIN;

CREATE OR REPLACE VIEW billing.v_open_287_1 AS
    SELECT id, labels FROM billing.timers WHERE labels IS NULL;

COMMIT;
