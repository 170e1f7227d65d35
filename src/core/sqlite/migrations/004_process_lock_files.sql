-- 004_process_lock_files: from version 3 to 4: a lease may name its holder's per-process lock file instead of a per-session one (docs/ownership.md).
-- `process_lock` 1: the holder holds the lock file `<database>.leases/<process>.lock`, one per
-- process and database, whatever the number of sessions it owns; a contender that can take it
-- knows the holder died. Rows of version 3 (0) keep their meaning: `kernel_lock` 1 names the
-- per-session lock file. A lease with `process_lock` 1 has `kernel_lock` 0, so that a version 3
-- process still running beside this one never probes a per-session file nobody holds.
ALTER TABLE leases ADD COLUMN process_lock INTEGER NOT NULL DEFAULT 0;
