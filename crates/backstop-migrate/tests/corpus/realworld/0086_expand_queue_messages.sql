DO 'BEGIN RAISE NOTICE ''migrating price_books; please wait''; END';

ALTER TABLE temporal.timers ADD CONSTRAINT fk_86_1 FOREIGN KEY (notes) REFERENCES temporal.signals (id) NOT VALID;

ALTER TABLE temporal.timers VALIDATE CONSTRAINT fk_86_1;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_86_2 ON temporal.webhooks USING btree (run_id);
