SET lock_timeout = '5s';

CREATE DOMAIN ops.dom_172_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN ops.dom_172_1 SET DEFAULT 'none';

CREATE DOMAIN ops.dom_172_2 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER TABLE ops.webhooks ADD COLUMN IF NOT EXISTS external_ref_172_3 varchar(120);
