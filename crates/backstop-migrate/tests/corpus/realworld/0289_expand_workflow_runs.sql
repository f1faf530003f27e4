SET lock_timeout = '5s';

CREATE FUNCTION tenant_0042.touch_updated_at_289_1() RETURNS trigger AS '
BEGIN
    NEW.note := ''it''''s done; really'';
    RETURN NEW;
END;
' LANGUAGE 'plpgsql' VOLATILE;
