-- Migration 151: expand step
SET lock_timeout = '5s';

CREATE OR REPLACE VIEW tenant_0042.v_open_151_1 AS
    SELECT id, region FROM tenant_0042.price_books WHERE display_label IS NULL;

CREATE OR REPLACE VIEW tenant_0042.v_open_151_2 AS
    SELECT id, retry_count FROM tenant_0042.line_items WHERE display_label IS NULL;
