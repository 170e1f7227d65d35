-- 003_leases: from version 2 to 3: session leases, one owner per session with fenced writes (docs/ownership.md).
-- One row per session ever leased, kept when the session is deleted, so that its epoch never
-- goes back. `holder` is '' once released. Times are ms: `acquired_at` and `expires_at` by the
-- holder's wall clock (for people, and across boots), `expires_boot` on the boot-time clock of
-- boot `boot` (NULL where the platform has none), which decides on that boot.
CREATE TABLE leases (
    session      TEXT    PRIMARY KEY,
    epoch        INTEGER NOT NULL,
    holder       TEXT    NOT NULL,
    process      TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    acquired_at  INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    boot         TEXT    NOT NULL,
    expires_boot INTEGER,
    kernel_lock  INTEGER NOT NULL
) WITHOUT ROWID;
