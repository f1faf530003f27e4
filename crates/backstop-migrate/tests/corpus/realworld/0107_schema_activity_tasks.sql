BEGIN;

CREATE SEQUENCE IF NOT EXISTS public.seq_107_1 AS integer START WITH 350 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;

SELECT setval('seq_107_1', (SELECT coalesce(max(id), 1) FROM public.namespaces));

COMMENT ON FUNCTION touch_107_2() IS 'Sets updated_at; called by triggers only';

COMMIT;
