-- migrate:up
SET lock_timeout = '5s';

CREATE TYPE ops.status_108_1 AS ENUM ('pending', 'running', 'done');

ALTER TYPE ops.status_108_1 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

CREATE TYPE ops.status_108_2 AS ENUM ('pending', 'running', 'done');

ALTER TYPE ops.status_108_2 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

ALTER TABLE ops.activity_tasks ADD CONSTRAINT fk_108_3 FOREIGN KEY (region) REFERENCES ops.tenants (id) NOT VALID;

ALTER TABLE ops.activity_tasks VALIDATE CONSTRAINT fk_108_3;

ALTER TABLE ops.activity_tasks ALTER CONSTRAINT fk_108_3 DEFERRABLE INITIALLY DEFERRED;

CREATE OR REPLACE VIEW ops.v_open_108_4 AS
    SELECT id, visibility_ts FROM ops.payments WHERE shard_id IS NULL;

SET search_path TO ops, public;

-- migrate:down
SELECT 1;
