SET lock_timeout = '5s';

UPDATE "analytics.v2".invoices SET labels = 0 WHERE id BETWEEN 1 AND 10000 AND currency_code IS NULL;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN
        CREATE TYPE mood AS ENUM ('a', 'b');
    END IF;
END
$$;

DO 'BEGIN RAISE NOTICE ''migrating tenants; please wait''; END';
