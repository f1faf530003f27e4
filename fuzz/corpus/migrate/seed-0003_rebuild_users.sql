-- SQLite cannot change a column's type in place: the documented 12-step rebuild.
PRAGMA foreign_keys = OFF;
BEGIN TRANSACTION;

CREATE TABLE IF NOT EXISTS users_new (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    full_name  TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (datetime('now'))
) STRICT;
INSERT INTO users_new (id, email, full_name, updated_at)
    SELECT id, email, full_name, updated_at FROM users;
-- backstop:allow dropping-table users_new replaces it in the same transaction, same columns
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

COMMIT;
PRAGMA foreign_keys = ON;
