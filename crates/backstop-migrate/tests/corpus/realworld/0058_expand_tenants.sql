SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION public.touch_updated_at_58_1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE OR REPLACE VIEW v_open_58_2 AS
    SELECT id, owner_ref FROM audit_trail WHERE visibility_ts IS NULL;
