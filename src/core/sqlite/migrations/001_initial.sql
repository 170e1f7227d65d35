-- 001_initial: from version 0 (an empty file) to 1: sessions and their keys. Keys are addressed by (session, type, id); deleting a session cascades to its keys.
CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    creds       BLOB,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE keys (
    session_id  INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    type        TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    value       BLOB    NOT NULL,
    PRIMARY KEY (session_id, type, id)
);
