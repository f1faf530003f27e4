-- Done badly: rename full_name to name in one step.
-- The previous release still selects and inserts full_name, so it fails the moment this runs,
-- and rolling the code back does not bring full_name back.
ALTER TABLE users RENAME COLUMN full_name TO name;
