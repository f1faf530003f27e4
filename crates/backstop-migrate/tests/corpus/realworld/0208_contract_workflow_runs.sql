SET lock_timeout = '5s';

COMMENT ON CONSTRAINT fk_208_3 ON billing.ledgers IS 'it''s deferrable on purpose';
