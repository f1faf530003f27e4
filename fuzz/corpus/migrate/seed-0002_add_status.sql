-- SQLite refuses this itself, and the previous release's inserts would fail anyway.
ALTER TABLE users ADD COLUMN status TEXT NOT NULL;
