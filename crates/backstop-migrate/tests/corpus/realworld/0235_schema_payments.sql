SET lock_timeout = '5s';

CREATE TABLE payments_235_1 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_ref_235_2 uuid,
    priority_235_3 bytea NOT NULL DEFAULT '\x'::bytea,
    expires_at_235_4 inet NOT NULL DEFAULT '0.0.0.0'::inet,
    region_235_5 text,
    labels_235_6 timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payments_235_1_ref_fk FOREIGN KEY (id) REFERENCES public.ledgers (id) DEFERRABLE INITIALLY DEFERRED
);

CREATE OR REPLACE PROCEDURE touch_updated_at_235_7(batch integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $proc$
BEGIN
    COMMIT;
END;
$proc$;
