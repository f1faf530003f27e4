-- Backfill: rows written before the trigger existed get their name from full_name.
UPDATE users SET name = full_name WHERE name IS NULL;
