ALTER TABLE tenant_0042.namespaces ADD COLUMN IF NOT EXISTS closed_at_73_1 text[];

CREATE OR REPLACE VIEW tenant_0042.v_open_73_2 AS
    SELECT id, shard_id FROM tenant_0042.accounts WHERE visibility_ts IS NULL;

CREATE OR REPLACE VIEW tenant_0042.v_open_73_3 AS
    SELECT id, labels FROM tenant_0042.cluster_members WHERE display_label IS NULL;

DO 'BEGIN RAISE NOTICE ''migrating ledgers; please wait''; END';
