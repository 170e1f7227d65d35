-- 002_session_ids_never_reused: from version 1 to 2: a session's row id is never given to another session (AUTOINCREMENT).
-- Version 1 used a plain INTEGER PRIMARY KEY, whose ids SQLite reuses: after a session was
-- deleted without foreign keys (the sqlite3 shell has them off), its keys stayed behind and the
-- next new session inherited them. Keys left by such deletes belong to no session and are
-- removed; then the table is rebuilt with AUTOINCREMENT, keeping every id (so every key stays
-- with its session). Runs with foreign keys off (see migrate.rs): dropping the old table must
-- not cascade to the keys.
DELETE FROM keys WHERE session_id NOT IN (SELECT id FROM sessions);
CREATE TABLE sessions_v2 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    creds       BLOB,
    updated_at  INTEGER NOT NULL
);
INSERT INTO sessions_v2 (id, name, creds, updated_at) SELECT id, name, creds, updated_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_v2 RENAME TO sessions;
