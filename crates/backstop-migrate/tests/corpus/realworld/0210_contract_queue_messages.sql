-- Migration 210: contract step
SET lock_timeout = '5s';

ALTER TABLE tenant_0042.activity_tasks ALTER COLUMN currency_code TYPE bigint USING currency_code::bigint;
