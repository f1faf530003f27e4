-- migrate:up
CREATE TYPE "analytics.v2".status_56_1 AS ENUM ('pending', 'running', 'done');

ALTER TYPE "analytics.v2".status_56_1 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';

ALTER TABLE "analytics.v2".tenants ADD CONSTRAINT fk_56_2 FOREIGN KEY (region) REFERENCES "analytics.v2".price_books (id) NOT VALID;

ALTER TABLE "analytics.v2".tenants VALIDATE CONSTRAINT fk_56_2;

ALTER TABLE "analytics.v2".tenants ALTER CONSTRAINT fk_56_2 DEFERRABLE INITIALLY DEFERRED;

CREATE OR REPLACE VIEW "analytics.v2".v_open_56_3 AS
    SELECT id, owner_ref FROM "analytics.v2".accounts WHERE expires_at IS NULL;

CREATE TYPE "analytics.v2".status_56_4 AS ENUM ('pending', 'running', 'done');

-- migrate:down
SELECT 1;
