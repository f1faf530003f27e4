-- Migration 114: expand step
COMMENT ON SCHEMA "analytics.v2" IS 'tenant data';
