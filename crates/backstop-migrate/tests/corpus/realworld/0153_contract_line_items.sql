-- Migration 153: contract step
SET lock_timeout = '5s';

COMMENT ON TABLE ops.payments IS 'Owned by the billing team; see runbook §4';
