-- +goose Up
CREATE OR REPLACE FUNCTION "analytics.v2".touch_updated_at_19_1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE SEQUENCE IF NOT EXISTS "analytics.v2".seq_19_2 AS smallint START WITH 87 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 20;

ALTER SEQUENCE "analytics.v2".seq_19_2 OWNED BY "analytics.v2".tenants.id;

-- +goose Down
DROP TABLE IF EXISTS whatever;
