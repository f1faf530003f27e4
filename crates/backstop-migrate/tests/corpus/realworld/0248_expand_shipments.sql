-- Migration 248: expand step
SET lock_timeout = '5s';

SET search_path TO tenant_0042, public;

CREATE STATISTICS IF NOT EXISTS tenant_0042.stx_248_3  ON labels, closed_at FROM tenant_0042.workflow_runs;

CREATE STATISTICS IF NOT EXISTS tenant_0042.stx_248_4 (ndistinct, dependencies) ON closed_at, display_label FROM tenant_0042.shipments;

CREATE STATISTICS IF NOT EXISTS tenant_0042.stx_248_5 (dependencies) ON run_id, run_id FROM tenant_0042.activity_tasks;
