-- Migration 228: contract step
SET lock_timeout = '5s';

ALTER INDEX temporal.legacy_idx RENAME TO legacy_idx_old;

DROP DOMAIN IF EXISTS temporal.legacy_dom;
