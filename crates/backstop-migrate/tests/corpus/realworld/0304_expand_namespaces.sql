-- migrate:up
CREATE TYPE status_304_1 AS ENUM ('pending', 'running', 'done');

ALTER TYPE status_304_1 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

DO LANGUAGE 'plpgsql' $$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS x int', 'activity_tasks');
END
$$;

ANALYZE history_events;

CREATE SEQUENCE IF NOT EXISTS public.seq_304_4 AS smallint START WITH 168 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 20;

SELECT setval('seq_304_4', (SELECT coalesce(max(id), 1) FROM price_books));

CREATE SEQUENCE IF NOT EXISTS public.seq_304_5 AS smallint START WITH 906 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;

-- migrate:down
SELECT 1;
