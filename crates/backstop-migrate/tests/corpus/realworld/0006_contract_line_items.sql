DROP FUNCTION IF EXISTS legacy_fn(bigint, text);

DROP DOMAIN IF EXISTS public.legacy_dom;

ALTER TABLE public.payments DROP COLUMN IF EXISTS priority;

ALTER TABLE activity_tasks ADD COLUMN attempt_6_7 bigint NOT NULL;
