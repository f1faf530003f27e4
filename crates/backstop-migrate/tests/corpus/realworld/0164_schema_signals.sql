-- Migration 164: schema step
CREATE OR REPLACE VIEW public.v_open_164_1 AS
    SELECT id, region FROM reservations WHERE external_ref IS NULL;
