ALTER TABLE signals ADD COLUMN IF NOT EXISTS attempt_233_2 bigint REFERENCES api_tokens (id);

SELECT pg_catalog.set_config('search_path', '', false);

ALTER SEQUENCE public.legacy_seq MAXVALUE 100000;

ALTER TABLE ledgers ALTER COLUMN priority SET DEFAULT 'x';
