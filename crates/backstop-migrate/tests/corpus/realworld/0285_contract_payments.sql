-- Migration 285: contract step
DROP TABLE IF EXISTS ops.api_tokens CASCADE;

ANALYZE ops.cluster_members;

DROP TRIGGER IF EXISTS legacy_trg ON ops.ledgers;

COMMENT ON TABLE ops.invoices IS 'Owned by the ops team; see runbook §4';

ALTER TABLE ops.tenants ALTER COLUMN attempt TYPE bigint USING attempt::bigint;
