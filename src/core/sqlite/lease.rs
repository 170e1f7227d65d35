//! Session leases in a SQLite store (`docs/ownership.md`): the `leases` table
//! (`migrations/003_leases.sql`, `004_process_lock_files.sql`), read and written inside the same
//! `IMMEDIATE` transaction as the write they guard, and the lock files that tell a dead holder
//! from a live one.
//!
//! Pids and host names lie inside containers (pid 1 is always alive; a restarted container has
//! a new host name), so liveness comes from the kernel: while a process holds any lease in a
//! database it holds an exclusive `flock` (Windows: `LockFileEx`) on a lock file of its own,
//! `<database>.leases/<process token>.lock`, ONE per process and database however many sessions
//! it owns (a descriptor per session ran out at `ulimit -n`). Each lease row names its holder's
//! process token. The kernel releases the lock when the process dies however it dies, so the
//! next process finds it free and takes the session at once. Never a lock on SQLite's own files:
//! closing any descriptor of those would drop the locks SQLite holds on them.
//!
//! Process tokens are random and never reused, so a lock file found free belongs to a process
//! that is dead or owns nothing here any more: the prober deletes it (Unix) while still holding
//! its lock, and an owner that (re)creates its file checks, once it holds the lock, that the
//! name still leads to the file it locked, so nobody ever holds a lock on a deleted file.
//! Windows keeps them (its files cannot be told apart by inode with std). Probes, like grants,
//! run only inside a write transaction, which holds the database's write lock: two contenders
//! never probe one file at once (neither could see the other's brief lock and judge a dead
//! holder alive), and a probe never falls between an owner's lock and the row that names it.
//!
//! Rows of schema version 3 name a lock file per session (`<hash of the session>.lock`); those
//! are still asked, never deleted (a version 3 process may be probing them), never taken.
//!
//! A process holds each database's lock once, in [`HELD`], with the sessions it owns there,
//! whichever of its handles owns them: two handles of one process never contend for a lock, and
//! an in-process takeover keeps it. The lock is given back when its last session is.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, OptionalExtension, Transaction};

use crate::core::error::Result;
use crate::core::lease::{self, Fence, HostClock, KernelLock, LeaseOwner, LeaseRecord};

/// This process's lock file in one database's lock directory, and the sessions it owns there.
struct ProcessLock {
    file: File,
    path: PathBuf,
    sessions: HashSet<String>,
}

/// This process's locks, by store identity.
static HELD: Mutex<Option<HashMap<String, ProcessLock>>> = Mutex::new(None);

fn held() -> MutexGuard<'static, Option<HashMap<String, ProcessLock>>> {
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

    /// A version 3 lease's per-session lock file: named by a hash of the session id, which may
    /// hold any character.
    fn session_path(dir: &Path, session: &str) -> PathBuf {
        dir.join(format!("{:016x}{:016x}.lock", fnv1a(session, 0xcbf2_9ce4_8422_2325), fnv1a(session, 0x6c62_272e_07bb_0142)))
    }

    /// The lock file of the process whose token is `process`; `None` for a token that is not
    /// one ([`lease::process_token`]: 32 hex digits), so that a hostile row cannot name a path.
    fn process_path(dir: &Path, process: &str) -> Option<PathBuf> {
        let is_token = process.len() == 32 && process.bytes().all(|b| b.is_ascii_hexdigit());
        is_token.then(|| dir.join(format!("{process}.lock")))
    }

    /// Opens (creating) and locks this process's lock file, checking that the name still leads
    /// to the file locked (a prober may have deleted it between our open and our lock).
    fn lock_own(dir: &Path) -> std::io::Result<(File, PathBuf)> {
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        let path = Self::process_path(dir, lease::process_token()).expect("this process's token is a token");
        // A prober holds it for an instant only: a few tries, then the lease goes without.
        for _ in 0..100 {
            let mut options = std::fs::OpenOptions::new();
            options.read(true).write(true).create(true).truncate(false);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let file = options.open(&path)?;
            if file.try_lock().is_err() {
                std::thread::yield_now();
                continue;
            }
            if same_file(&file, &path) {
                return Ok((file, path));
            }
        }
        Err(std::io::Error::new(std::io::ErrorKind::WouldBlock, "this process's lock file stayed busy"))
    }

    /// Counts the session as owned by this process, taking the process's lock if it is the
    /// first: which lock it holds for it now ([`KernelLock::None`] if it cannot take one), and
    /// whether it counted it just now (to undo should the transaction fail).
    pub(super) fn take(&self, session: &str) -> (KernelLock, bool) {
        let Some(dir) = self.dir.as_ref() else { return (KernelLock::None, false) };
        let mut held = held();
        let map = held.get_or_insert_with(HashMap::new);
        if let Some(lock) = map.get_mut(&self.identity) {
            let took = lock.sessions.insert(session.to_owned());
            return (KernelLock::Process, took);
        }
        match Self::lock_own(dir) {
            Ok((file, path)) => {
                map.insert(self.identity.clone(), ProcessLock { file, path, sessions: HashSet::from([session.to_owned()]) });
                (KernelLock::Process, true)
            }
            // Without a lock file (a read-only directory, say) leases still work; a dead holder's
            // lease is then taken when it expires instead of at once.
            Err(e) => {
                tracing::debug!(error = %e, "process lock file unavailable");
                (KernelLock::None, false)
            }
        }
    }

    /// The session is no longer owned by this process; with the last one, the lock goes back
    /// (its file deleted first, while still locked, so that nobody else ever deletes it).
    pub(super) fn give_back(&self, session: &str) {
        let mut held = held();
        let Some(map) = held.as_mut() else { return };
        let Some(lock) = map.get_mut(&self.identity) else { return };
        lock.sessions.remove(session);
        if lock.sessions.is_empty() {
            let lock = map.remove(&self.identity).expect("present");
            #[cfg(unix)]
            let _ = std::fs::remove_file(&lock.path);
            drop(lock.file);
        }
    }

    /// Whether the lock file `record`'s holder held is free: its process died (or gave it back).
    /// Taking it is the only way to ask; it is given back at once, and a free process lock
    /// file deleted (its name is never used again).
    pub(super) fn holder_died(&self, record: &LeaseRecord, session: &str) -> bool {
        let Some(dir) = self.dir.as_ref() else { return false };
        let path = match record.kernel_lock {
            KernelLock::None => return false,
            KernelLock::Session => Self::session_path(dir, session),
            KernelLock::Process => match Self::process_path(dir, &record.process) {
                Some(path) => path,
                None => return false,
            },
        };
        let file = match std::fs::OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => file,
            // Every holder created its file before it recorded its lease, and only free files are
            // deleted: a missing one is a holder gone (or a lock directory wiped by hand).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return true,
            Err(e) => {
                tracing::debug!(error = %e, "lock file unavailable, the lease ends by time");
                return false;
            }
        };
        if file.try_lock().is_err() {
            return false;
        }
        #[cfg(unix)]
        if record.kernel_lock == KernelLock::Process && same_file(&file, &path) {
            let _ = std::fs::remove_file(&path);
        }
        true
    }
}

/// Whether `path` names the file `file` has open (Unix: same device and inode). Elsewhere files
/// are never deleted behind an owner, so it always does.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
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
        "SELECT holder, process, epoch, host, pid, acquired_at, expires_at, boot, expires_boot, kernel_lock, process_lock
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
        kernel_lock: match (r.get::<_, i64>(9)?, r.get::<_, i64>(10)?) {
            (_, p) if p != 0 => KernelLock::Process,
            (k, _) if k != 0 => KernelLock::Session,
            _ => KernelLock::None,
        },
    })
}

/// Stores the session's lease, inside the caller's transaction.
pub(super) fn write(tx: &Transaction<'_>, session: &str, record: &LeaseRecord) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT OR REPLACE INTO leases (session, holder, process, epoch, host, pid, acquired_at, expires_at, boot, expires_boot, kernel_lock, process_lock)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
        (record.kernel_lock == KernelLock::Session) as i64,
        (record.kernel_lock == KernelLock::Process) as i64
    ])?;
    Ok(())
}

/// Every stored lease, sorted by session.
pub(super) fn read_all(conn: &rusqlite::Connection) -> Result<Vec<(String, LeaseRecord)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT holder, process, epoch, host, pid, acquired_at, expires_at, boot, expires_boot, kernel_lock, process_lock, session
         FROM leases ORDER BY session",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(11)?, record_from_row(r)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

impl LockFiles {
    /// Whether `record` is live now (see [`lease::is_live`]), asking the lock file if need be:
    /// only inside a write transaction (see `SqliteStore::lease`).
    pub(super) fn is_live(&self, session: &str, record: &LeaseRecord, now: &HostClock) -> bool {
        lease::is_live(record, now, || self.holder_died(record, session))
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
            record.kernel_lock = KernelLock::None;
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
