-- migrate:up
SET lock_timeout = '5s';

ALTER TABLE tenant_0042.payments ADD CONSTRAINT fk_9_1 FOREIGN KEY (shard_id) REFERENCES tenant_0042.accounts (id) NOT VALID;

ALTER TABLE tenant_0042.payments VALIDATE CONSTRAINT fk_9_1;

ALTER TABLE tenant_0042.payments ALTER CONSTRAINT fk_9_1 DEFERRABLE INITIALLY DEFERRED;

-- migrate:down
SELECT 1;
