-- +goose Up
ALTER TABLE public.webhooks DETACH PARTITION public.webhooks_2023;

DROP TRIGGER IF EXISTS legacy_trg ON public.price_books;

DROP TYPE IF EXISTS public.legacy_status;

REVOKE INSERT ON invoices FROM app_rw;

-- +goose Down
DROP TABLE IF EXISTS whatever;
