-- migrate:up
ALTER TABLE reservations ADD CONSTRAINT fk_154_1 FOREIGN KEY (state) REFERENCES public.webhooks (id) NOT VALID;

ALTER TABLE reservations VALIDATE CONSTRAINT fk_154_1;

CREATE OR REPLACE PROCEDURE public.touch_updated_at_154_2(batch integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $proc$
BEGIN
    COMMIT;
END;
$proc$;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_154_3 ON public.accounts USING btree (state) WHERE closed_at IS NOT NULL;

-- migrate:down
SELECT 1;
