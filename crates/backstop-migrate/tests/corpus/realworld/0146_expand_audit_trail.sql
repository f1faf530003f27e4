SET lock_timeout = '5s';

SET LOCAL statement_timeout = '30s';

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_146_3 ON public.ledgers USING gin (labels) WHERE expires_at IS NOT NULL;
