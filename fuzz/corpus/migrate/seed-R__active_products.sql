CREATE OR REPLACE VIEW active_products AS
    SELECT id, sku, price_cents FROM products WHERE NOT discontinued;
