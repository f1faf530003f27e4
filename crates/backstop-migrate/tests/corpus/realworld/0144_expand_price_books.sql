-- +goose Up
CREATE DOMAIN dom_144_1 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

ALTER DOMAIN dom_144_1 ADD CONSTRAINT dom_144_1_len CHECK (length(VALUE) < 200) NOT VALID;

ALTER DOMAIN dom_144_1 VALIDATE CONSTRAINT dom_144_1_len;

COMMENT ON CONSTRAINT fk_144_4 ON public.line_items IS 'it''s deferrable on purpose';

COMMENT ON TABLE public.signals IS 'Owned by the billing team; see runbook §4';

COMMENT ON TABLE timers IS 'Owned by the billing team; see runbook §4';

-- +goose Down
DROP TABLE IF EXISTS whatever;
