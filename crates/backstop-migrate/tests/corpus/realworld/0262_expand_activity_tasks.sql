-- migrate:up
ALTER TABLE billing.queue_messages ADD CONSTRAINT fk_262_1 FOREIGN KEY (retry_count) REFERENCES billing.shipments (id) NOT VALID;

ALTER TABLE billing.queue_messages VALIDATE CONSTRAINT fk_262_1;

ALTER TABLE billing.queue_messages ALTER CONSTRAINT fk_262_1 DEFERRABLE INITIALLY DEFERRED;

CREATE TYPE billing.status_262_2 AS ENUM ('pending', 'running', 'done');

ALTER TYPE billing.status_262_2 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

-- migrate:down
SELECT 1;
