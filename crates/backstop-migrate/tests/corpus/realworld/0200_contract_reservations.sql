SET lock_timeout = '5s';

COMMENT ON FUNCTION tenant_0042.touch_200_1() IS 'Sets updated_at; called by triggers only';
