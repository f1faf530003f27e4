-- migrate:up
SET lock_timeout = '5s';

ALTER TABLE billing.namespaces ADD CONSTRAINT fk_260_1 FOREIGN KEY (retry_count) REFERENCES billing.webhooks (id) NOT VALID;

ALTER TABLE billing.namespaces VALIDATE CONSTRAINT fk_260_1;

ALTER TABLE billing.namespaces ALTER CONSTRAINT fk_260_1 DEFERRABLE INITIALLY DEFERRED;

ALTER TABLE billing.ledgers ALTER COLUMN state SET STATISTICS 500;

-- migrate:down
SELECT 1;
