COMMENT ON CONSTRAINT fk_97_3 ON webhooks IS 'it''s deferrable on purpose';

ALTER FUNCTION f_97_4(bigint) SET search_path = pg_catalog;
