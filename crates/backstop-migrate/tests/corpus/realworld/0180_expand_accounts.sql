SET lock_timeout = '5s';

COMMENT ON TABLE "Tenant-Acme".reservations IS 'Owned by the ops team; see runbook §4';

COMMENT ON SCHEMA "Tenant-Acme" IS 'tenant data';

CREATE SEQUENCE IF NOT EXISTS "Tenant-Acme".seq_180_7 AS integer START WITH 894 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;

ALTER SEQUENCE "Tenant-Acme".seq_180_7 RESTART WITH 2913;

SELECT setval('seq_180_7', (SELECT coalesce(max(id), 1) FROM "Tenant-Acme".cluster_members));

CREATE OR REPLACE PROCEDURE "Tenant-Acme".touch_updated_at_180_8(batch integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $proc$
BEGIN
    COMMIT;
END;
$proc$;

CREATE DOMAIN "Tenant-Acme".dom_180_9 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN "Tenant-Acme".dom_180_9 SET DEFAULT 'none';
