-- Expand: add users.name next to full_name, and keep the two in sync while
-- the release that writes full_name and the one that writes name both run.
SET lock_timeout = '5s';

ALTER TABLE users ADD COLUMN IF NOT EXISTS name text;

CREATE OR REPLACE FUNCTION users_sync_name() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.name := COALESCE(NEW.name, NEW.full_name);
        NEW.full_name := COALESCE(NEW.full_name, NEW.name);
    ELSIF NEW.name IS DISTINCT FROM OLD.name THEN
        NEW.full_name := NEW.name;
    ELSIF NEW.full_name IS DISTINCT FROM OLD.full_name THEN
        NEW.name := NEW.full_name;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER users_sync_name BEFORE INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION users_sync_name();
