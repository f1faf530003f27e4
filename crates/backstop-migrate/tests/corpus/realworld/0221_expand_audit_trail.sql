-- Migration 221: expand step
SET lock_timeout = '5s';

CREATE TYPE billing.status_221_1 AS ENUM ('pending', 'running', 'done');

ALTER TYPE billing.status_221_1 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

CREATE OR REPLACE VIEW billing.v_open_221_2 AS
    SELECT id, labels FROM billing.signals WHERE checksum IS NULL;

ALTER TABLE billing.cluster_members ADD CONSTRAINT fk_221_3 FOREIGN KEY (version_stamp) REFERENCES billing.audit_trail (id) NOT VALID;

ALTER TABLE billing.cluster_members VALIDATE CONSTRAINT fk_221_3;
