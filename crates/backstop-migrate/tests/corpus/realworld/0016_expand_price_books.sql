-- +goose Up
CREATE OR REPLACE PROCEDURE "Tenant-Acme".touch_updated_at_16_1(batch integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $proc$
BEGIN
    COMMIT;
END;
$proc$;

ALTER TABLE "Tenant-Acme".line_items ADD CONSTRAINT fk_16_2 FOREIGN KEY (labels) REFERENCES "Tenant-Acme".timers (id) NOT VALID;

ALTER TABLE "Tenant-Acme".line_items VALIDATE CONSTRAINT fk_16_2;

ALTER TABLE "Tenant-Acme".line_items ALTER CONSTRAINT fk_16_2 DEFERRABLE INITIALLY DEFERRED;

-- +goose Down
DROP TABLE IF EXISTS whatever;
