-- migrate:up
SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS "Tenant-Acme".regional_121_1 (id bigint, region text NOT NULL) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS "Tenant-Acme".regional_121_1_eu PARTITION OF "Tenant-Acme".regional_121_1 FOR VALUES IN ('eu-west', 'eu-central');

CREATE TABLE IF NOT EXISTS "Tenant-Acme".regional_121_1_us PARTITION OF "Tenant-Acme".regional_121_1 FOR VALUES IN ('us-east');

CREATE OR REPLACE FUNCTION "Tenant-Acme".trg_fn_121_2() RETURNS trigger LANGUAGE plpgsql AS $t$ BEGIN RETURN NEW; END $t$;

CREATE OR REPLACE TRIGGER trg_121_3 BEFORE UPDATE ON "Tenant-Acme".queue_messages
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION "Tenant-Acme".trg_fn_121_2();

CREATE TABLE "Tenant-Acme".audit_trail_121_4 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_ref_121_5 smallint,
    retry_count_121_6 uuid,
    external_ref_121_7 integer NOT NULL DEFAULT 0,
    checksum_121_8 integer NOT NULL DEFAULT 0,
    CONSTRAINT audit_trail_121_4_ref_fk FOREIGN KEY (id) REFERENCES "Tenant-Acme".ledgers (id) DEFERRABLE INITIALLY DEFERRED
);

-- migrate:down
SELECT 1;
