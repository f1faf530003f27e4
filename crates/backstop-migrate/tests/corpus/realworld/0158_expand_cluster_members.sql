-- Migration 158: expand step
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE DOMAIN "analytics.v2".dom_158_3 AS text CHECK (VALUE ~ '^[a-z0-9_\-]+$');

DO LANGUAGE 'plpgsql' $$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS x int', 'signals');
END
$$;
