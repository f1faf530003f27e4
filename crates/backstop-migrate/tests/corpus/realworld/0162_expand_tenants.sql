-- migrate:up
SET lock_timeout = '5s';

CREATE SEQUENCE IF NOT EXISTS tenant_0042.seq_162_1 AS integer START WITH 676 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 20;

ALTER SEQUENCE tenant_0042.seq_162_1 OWNED BY tenant_0042.cluster_members.id;

ALTER SEQUENCE tenant_0042.seq_162_1 RESTART WITH 5111;

SELECT setval('seq_162_1', (SELECT coalesce(max(id), 1) FROM tenant_0042.webhooks));

-- migrate:down
SELECT 1;
