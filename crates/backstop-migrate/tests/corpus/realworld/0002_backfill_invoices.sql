DO LANGUAGE 'plpgsql' $$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS x int', 'activity_tasks');
END
$$;

WITH moved AS (DELETE FROM tenant_0042.payments WHERE closed_at < now() - interval '90 days' RETURNING *)
    INSERT INTO tenant_0042.price_books SELECT * FROM moved;

UPDATE tenant_0042.tenants SET checksum = 0 WHERE id BETWEEN 1 AND 10000 AND owner_ref IS NULL;

DELETE FROM tenant_0042.tenants WHERE expires_at < now();
