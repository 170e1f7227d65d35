//! Session leases in a SQLite store (`docs/ownership.md`): the `leases` table
//! (`migrations/003_leases.sql`), read and written inside the same `IMMEDIATE` transaction as
//! the write they guard, and the lock files that tell a dead holder from a live one.
//!
//! Pids and host names lie inside containers (pid 1 is always alive; a restarted container has
//! a new host name), so liveness comes from the kernel: the holder of a lease also holds an
//! exclusive `flock` (Windows: `LockFileEx`) on a lock file of its own, one per session, in the
//! directory `<database>.leases/` beside the database. The kernel releases it when the holder's
//! process dies however it dies, so the next process finds it free and takes the session at
//! once. Never a lock on SQLite's own files: closing any descriptor of those would drop the
//! locks SQLite holds on them. Lock files are never deleted: deleting one while another process
//! has it open would give two processes two different files under one name.
//!
//! A process holds each lock once, in [`HELD`], whichever of its handles owns the session: two
//! handles of one process never contend for a lock, and an in-process takeover keeps it.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, OptionalExtension, Transaction};

use crate::core::error::Result;
use crate::core::lease::{self, Fence, HostClock, LeaseOwner, LeaseRecord};

/// The lock files this process holds, by (store identity, session).
static HELD: Mutex<Option<HashMap<(String, String), File>>> = Mutex::new(None);

fn held() -> MutexGuard<'static, Option<HashMap<(String, String), File>>> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// The lock files of one database (none for a database in memory, which no other process sees).
pub(super) struct LockFiles {
    dir: Option<PathBuf>,
    identity: String,
}

impl LockFiles {
    /// The lock files beside the database at `db_path` (`None` or empty: in memory).
    pub(super) fn new(db_path: Option<&str>, identity: &str) -> LockFiles {
        let dir = db_path.filter(|p| !p.is_empty()).map(|p| PathBuf::from(format!("{p}.leases")));
        LockFiles { dir, identity: identity.to_owned() }
    }

    fn key(&self, session: &str) -> (String, String) {
        (self.identity.clone(), session.to_owned())
    }

    /// The session's lock file: named by a hash of the session id, which may hold any
    /// character (a collision only makes two sessions share one lock, which degrades dead-holder
    /// detection to waiting for the lease to expire).
    fn path(dir: &Path, session: &str) -> PathBuf {
        dir.join(format!("{:016x}{:016x}.lock", fnv1a(session, 0xcbf2_9ce4_8422_2325), fnv1a(session, 0x6c62_272e_07bb_0142)))
    }

    fn open(&self, session: &str) -> Option<File> {
        let dir = self.dir.as_ref()?;
        let open = || -> std::io::Result<File> {
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match builder.create(dir) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
                _ => {}
            }
            let mut options = std::fs::OpenOptions::new();
            options.read(true).write(true).create(true).truncate(false);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            options.open(Self::path(dir, session))
        };
        // Without a lock file (a read-only directory, say) leases still work; a dead holder's
        // lease is then taken when it expires instead of at once.
        open().map_err(|e| tracing::debug!(error = %e, "session lock file unavailable")).ok()
    }

    /// Whether this process holds the session's lock.
    pub(super) fn holds(&self, session: &str) -> bool {
        held().as_ref().is_some_and(|m| m.contains_key(&self.key(session)))
    }

    /// Takes the session's lock for this process if it can without waiting; whether it holds
    /// it now, and whether it took it just now.
    pub(super) fn take(&self, session: &str) -> (bool, bool) {
        if self.holds(session) {
            return (true, false);
        }
        let Some(file) = self.open(session) else { return (false, false) };
        if file.try_lock().is_err() {
            return (false, false);
        }
        held().get_or_insert_with(HashMap::new).insert(self.key(session), file);
        (true, true)
    }

    /// Gives the session's lock back (closing its file releases it).
    pub(super) fn give_back(&self, session: &str) {
        let file = held().as_mut().and_then(|m| m.remove(&self.key(session)));
        drop(file);
    }

    /// Whether nobody holds the session's lock: its last holder died or gave it back. Taking it
    /// is the only way to ask; it is given back at once.
    pub(super) fn is_free(&self, session: &str) -> bool {
        if self.holds(session) {
            return false;
        }
        self.open(session).is_some_and(|file| file.try_lock().is_ok())
    }
}

/// FNV-1a over the session id's bytes, from `basis`: a fixed hash, the same in every version
/// and every process (std's hashers promise neither).
fn fnv1a(text: &str, basis: u64) -> u64 {
    text.bytes().fold(basis, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The session's stored lease, inside the caller's transaction.
pub(super) fn read(tx: &Transaction<'_>, session: &str) -> Result<Option<LeaseRecord>> {
    let mut stmt = tx.prepare_cached(
        "SELECT holder, process, epoch, host, pid, acquired_at, expires_at, boot, expires_boot, kernel_lock
         FROM leases WHERE session = ?1",
    )?;
    Ok(stmt.query_row([session], record_from_row).optional()?)
}

fn record_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LeaseRecord> {
    Ok(LeaseRecord {
        holder: r.get(0)?,
        process: r.get(1)?,
        epoch: r.get::<_, i64>(2)? as u64,
        owner: LeaseOwner { host: r.get(3)?, pid: r.get::<_, i64>(4)? as u32, acquired_at_ms: r.get(5)?, expires_at_ms: r.get(6)? },
        boot: r.get(7)?,
        expires_boot_ms: r.get(8)?,
        kernel_lock: r.get::<_, i64>(9)? != 0,
    })
}

/// Stores the session's lease, inside the caller's transaction.
pub(super) fn write(tx: &Transaction<'_>, session: &str, record: &LeaseRecord) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT OR REPLACE INTO leases (session, holder, process, epoch, host, pid, acquired_at, expires_at, boot, expires_boot, kernel_lock)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    stmt.execute(params![
        session,
        record.holder,
        record.process,
        record.epoch as i64,
        record.owner.host,
        record.owner.pid as i64,
        record.owner.acquired_at_ms,
        record.owner.expires_at_ms,
        record.boot,
        record.expires_boot_ms,
        record.kernel_lock as i64
    ])?;
    Ok(())
}

/// Every stored lease, sorted by session.
pub(super) fn read_all(conn: &rusqlite::Connection) -> Result<Vec<(String, LeaseRecord)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT holder, process, epoch, host, pid, acquired_at, expires_at, boot, expires_boot, kernel_lock, session
         FROM leases ORDER BY session",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(10)?, record_from_row(r)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

impl LockFiles {
    /// Whether `record` is live now (see [`lease::is_live`]), asking the lock file if need be:
    /// only inside a write transaction (see `SqliteStore::lease`).
    pub(super) fn is_live(&self, session: &str, record: &LeaseRecord, now: &HostClock) -> bool {
        lease::is_live(record, now, || self.is_free(session))
    }

    /// The check before every write, inside its transaction (see [`lease::check_write`]). A
    /// fenced handle of this process gives the session's lock back, for its new owner.
    pub(super) fn check_write(&self, tx: &Transaction<'_>, session: &str, fence: Option<&Fence>) -> Result<()> {
        let record = read(tx, session)?;
        let live = record.as_ref().is_some_and(|r| self.is_live(session, r, &HostClock::now()));
        let checked = lease::check_write(session, record.as_ref().map(|r| (r.holder.as_str(), r.epoch, &r.owner)), live, fence);
        if checked.is_err() && fence.is_some() {
            self.fenced(record.as_ref(), session);
        }
        checked?;
        // A write without a fence to a session whose lease lapsed untaken (its holder stopped,
        // blocked or dead) ends that lease in the same transaction: otherwise the holder, should
        // it wake, would write on with its still-matching fence after this write.
        if let Some(mut record) = record.filter(|r| fence.is_none() && !r.holder.is_empty()) {
            record.holder.clear();
            record.kernel_lock = false;
            write(tx, session, &record)?;
            // Its lock file is given back by the holder's next call, fenced (see `fenced`).
        }
        Ok(())
    }

    /// After a fence failed: unless the session's owner is in this process, give its lock back.
    /// A released lease (no holder) has no owner anywhere, so its lock goes back too.
    pub(super) fn fenced(&self, record: Option<&LeaseRecord>, session: &str) {
        if record.is_none_or(|r| r.holder.is_empty() || r.process != lease::process_token()) {
            self.give_back(session);
        }
    }
}
