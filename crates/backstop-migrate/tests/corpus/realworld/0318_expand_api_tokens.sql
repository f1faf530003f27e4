SET lock_timeout = '5s';

CREATE TYPE "Tenant-Acme".status_318_1 AS ENUM ('pending', 'running', 'done');

ALTER TYPE "Tenant-Acme".status_318_1 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

DO 'BEGIN RAISE NOTICE ''migrating queue_messages; please wait''; END';

CREATE SEQUENCE IF NOT EXISTS "Tenant-Acme".seq_318_2 AS integer START WITH 16 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 20;

ALTER SEQUENCE "Tenant-Acme".seq_318_2 OWNED BY "Tenant-Acme".queue_messages.id;

ALTER SEQUENCE "Tenant-Acme".seq_318_2 RESTART WITH 3426;

ALTER TABLE "Tenant-Acme".ledgers ALTER COLUMN shard_id SET DEFAULT 'x';

COMMENT ON FUNCTION "Tenant-Acme".touch_318_5() IS 'Sets updated_at; called by triggers only';
