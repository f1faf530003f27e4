ALTER TABLE tenant_0042.line_items ADD CONSTRAINT fk_206_1 FOREIGN KEY (shard_id) REFERENCES tenant_0042.payments (id) NOT VALID;

ALTER TABLE tenant_0042.line_items VALIDATE CONSTRAINT fk_206_1;

CREATE TYPE tenant_0042.status_206_2 AS ENUM ('pending', 'running', 'done');

ALTER TYPE tenant_0042.status_206_2 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

COMMENT ON TABLE tenant_0042.workflow_runs IS 'Owned by the ops team; see runbook §4';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
        CREATE TYPE mood AS ENUM ('a', 'b');
    END IF;
END
$$;

CREATE DOMAIN tenant_0042.dom_206_6 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');
