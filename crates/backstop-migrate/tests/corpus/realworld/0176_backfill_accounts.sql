-- Migration 176: backfill step
SET lock_timeout = '5s';

UPDATE temporal.price_books SET amount_minor = 0 WHERE id BETWEEN 1 AND 10000 AND priority IS NULL;

DO 'BEGIN RAISE NOTICE ''migrating workflow_runs; please wait''; END';
