CREATE OR REPLACE VIEW "Tenant-Acme".v_open_126_1 AS
    SELECT id, external_ref FROM "Tenant-Acme".api_tokens WHERE labels IS NULL;
