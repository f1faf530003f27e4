ALTER TABLE tenant_0042.line_items ADD CONSTRAINT fk_71_1 FOREIGN KEY (attempt) REFERENCES tenant_0042.accounts (id) NOT VALID;

ALTER TABLE tenant_0042.line_items VALIDATE CONSTRAINT fk_71_1;

CREATE OR REPLACE FUNCTION tenant_0042.touch_updated_at_71_2(a integer, b integer DEFAULT 1) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 10
    RETURN a + b;

CREATE OR REPLACE VIEW tenant_0042.v_open_71_3 AS
    SELECT id, state FROM tenant_0042.ledgers WHERE notes IS NULL;
