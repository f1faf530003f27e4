-- Migration 103: schema step
COMMENT ON CONSTRAINT fk_103_3 ON temporal.api_tokens IS 'it''s deferrable on purpose';

CREATE SEQUENCE IF NOT EXISTS temporal.seq_103_4 AS smallint START WITH 725 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 20;

ALTER SEQUENCE temporal.seq_103_4 RESTART WITH 2273;

SELECT setval('seq_103_4', (SELECT coalesce(max(id), 1) FROM temporal.reservations));
