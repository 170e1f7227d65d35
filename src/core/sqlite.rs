//! The embedded default: one SQLite database file holds any number of sessions.
//!
//! - Durability: WAL journal with `synchronous=FULL`, so a write is on disk before the
//!   call that made it is acknowledged; a key batch is one `IMMEDIATE` transaction.
//! - Privacy: a new database file is created with mode 0600 (SQLite gives its `-wal` and
//!   `-shm` files the same mode), because it holds private keys.
//! - Versioning: `PRAGMA user_version` is the schema version and `application_id` marks the
//!   file as ours. Migrations run one step at a time, each in its own transaction; a
//!   database from a newer version is refused before anything is written to it.
//! - Last write: `sessions.updated_at` (ms since the epoch) is set exactly by `set_creds`;
//!   key writes refresh it only when it is more than a second old, so that a burst of key
//!   batches rewrites the session row (one more page per commit) at most once a second.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::error::{Result, StoreError};
use super::store::{now_millis, KeyInfo, KeyWrite, KindStats, SessionStats, Store};

/// Marks a SQLite file as a baileys-rust-auth database ("BRA1" in ASCII).
pub const APPLICATION_ID: i32 = 0x4252_4131;

/// Migration `n` (0-based) takes the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: sessions and their keys. Keys are addressed by (session, type, id); deleting a
    // session cascades to its keys.
    "CREATE TABLE sessions (
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
     );",
    // 2: a session's row id is never given to another session. Version 1 used a plain
    // INTEGER PRIMARY KEY, whose ids SQLite reuses: after a session was deleted without
    // foreign keys (the sqlite3 shell has them off), its keys stayed behind and the next new
    // session inherited them. Keys left by such deletes belong to no session and are removed;
    // then the table is rebuilt with AUTOINCREMENT, keeping every id (so every key stays
    // with its session). Runs with foreign keys off (see `migrate`): dropping the old table
    // must not cascade to the keys.
    "DELETE FROM keys WHERE session_id NOT IN (SELECT id FROM sessions);
     CREATE TABLE sessions_v2 (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        name        TEXT    NOT NULL UNIQUE,
        creds       BLOB,
        updated_at  INTEGER NOT NULL
     );
     INSERT INTO sessions_v2 (id, name, creds, updated_at) SELECT id, name, creds, updated_at FROM sessions;
     DROP TABLE sessions;
     ALTER TABLE sessions_v2 RENAME TO sessions;",
];

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a write waits for another process holding the database's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Pages a backup copies per step (4 MiB at the default page size).
const BACKUP_PAGES_PER_STEP: std::ffi::c_int = 1024;

/// Refreshes a session's `updated_at` after a key write, unless it is less than a second old.
const TOUCH_SESSION: &str = "UPDATE sessions SET updated_at = ?2 WHERE id = ?1 AND updated_at < ?2 - 1000";

pub struct SqliteStore {
    conn: Connection,
    /// The `-wal` and `-shm` as they were at open, see [`files_in_place`].
    companions: Companions,
    /// The database file's device and inode (a private id in memory), see [`Store::identity`].
    identity: String,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`. Its directory must exist.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, true)
    }

    /// Opens the database file at `path`; without `create`, a missing file is
    /// [`StoreError::NotFound`] and nothing is created (read-only tools use this).
    pub fn open_with(path: &Path, create: bool) -> Result<Self> {
        if create {
            create_private_file(path, false).map_err(|e| explain_open_failure(path, e))?;
        } else if !path.exists() {
            return Err(StoreError::NotFound(format!("there is no store at {}: the file does not exist", path.display())));
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| explain_open_failure(path, StoreError::Io(format!("cannot open {}: {e}", path.display()))))?;
        // SQLite opens a file it may not write read-only, without saying so; the store writes.
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(explain_open_failure(path, StoreError::Io(format!("{} is read-only", path.display()))));
        }
        Self::init(conn, create).map_err(|e| explain_open_failure(path, e))
    }

    /// A private database in memory, gone when the store closes.
    pub fn open_in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?, true)
    }

    /// Sets the connection up and brings the schema to this version. Without `create`, the file
    /// must already be a store of this schema version: an empty file is `NotFound`, and an
    /// older one is refused (`OlderSchema`) rather than upgraded, so that a tool that only looks
    /// never changes a database an application of the older version still uses.
    fn init(conn: Connection, create: bool) -> Result<Self> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Read the version before any pragma that writes, so that a database we must refuse
        // is left byte for byte as it was.
        let (version, app_id, tables) = read_header(&conn)?;
        check_ownership(version, app_id, tables)?;
        if !create && version < SCHEMA_VERSION {
            let path = conn.path().unwrap_or("").to_owned();
            if version == 0 && tables == 0 {
                return Err(StoreError::NotFound(format!("there is no store at {path}: the file is empty")));
            }
            return Err(StoreError::OlderSchema { found: version, current: SCHEMA_VERSION });
        }
        retry_while_busy(|| conn.pragma_update(None, "journal_mode", "WAL"))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Off while migrating (the bundled SQLite turns them on by default).
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        let identity = file_identity(conn.path().unwrap_or("")).unwrap_or_else(|| super::store::private_identity("sqlite-memory"));
        let mut store = SqliteStore { conn, identity, companions: Companions::default() };
        store.migrate(version)?;
        store.conn.pragma_update(None, "foreign_keys", "ON")?;
        // Both exist now: opening in WAL mode (`read_header`) created them.
        store.companions = Companions::of(store.conn.path().unwrap_or(""));
        Ok(store)
    }

    /// Runs the migrations from version `from` on, each in its own transaction. Foreign keys
    /// are off meanwhile (a table rebuild must not cascade; `init` turns them on after), and
    /// each step checks them before it commits.
    fn migrate(&mut self, from: i64) -> Result<()> {
        for (step, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Another process may have migrated while we waited for the lock.
            let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if current > step as i64 {
                continue;
            }
            tx.execute_batch(sql)?;
            let broken: i64 = tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))?;
            if broken > 0 {
                return Err(StoreError::corrupt(format!("schema upgrade to version {}: {broken} keys belong to no session", step + 1)));
            }
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            tx.pragma_update(None, "user_version", step as i64 + 1)?;
            tx.commit()?;
            tracing::debug!(version = step + 1, "sqlite schema migrated");
        }
        Ok(())
    }

    /// Runs `work` in one `IMMEDIATE` transaction and commits it, acknowledging the write only
    /// if the database's files are still in place ([`files_in_place`]): checked before the
    /// commit (a moved database is not written at all) and after it (should they move in the
    /// microseconds between, the write may have reached the old files, and is an error). An
    /// error anywhere rolls the transaction back.
    fn write<T>(&mut self, work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let result = work(&tx)?;
        files_in_place(&tx, &self.companions, Check::DatabaseFile)?;
        tx.commit()?;
        files_in_place(&self.conn, &self.companions, Check::AllFiles)?;
        Ok(result)
    }

    /// The session row's id, creating the row if needed, inside the caller's transaction.
    /// An existing row is not written to here; [`TOUCH_SESSION`] refreshes its time at most
    /// once a second, so most key batches touch only the pages of their keys, which keeps
    /// each commit (and its fsync) small.
    fn session_id(tx: &rusqlite::Transaction<'_>, session: &str) -> Result<i64> {
        let mut find = tx.prepare_cached("SELECT id FROM sessions WHERE name = ?1")?;
        if let Some(id) = find.query_row([session], |r| r.get(0)).optional()? {
            return Ok(id);
        }
        let mut create = tx.prepare_cached("INSERT INTO sessions (name, updated_at) VALUES (?1, ?2) RETURNING id")?;
        Ok(create.query_row(params![session, now_millis()], |r| r.get(0))?)
    }
}

/// The schema version, application id and table count, from one snapshot: another process
/// may be creating the schema at this moment.
fn read_header(conn: &Connection) -> Result<(i64, i32, i64)> {
    conn.execute_batch("BEGIN DEFERRED")?;
    let header = (|| -> rusqlite::Result<_> {
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        Ok((version, app_id, tables))
    })();
    match header {
        Ok(header) => {
            conn.execute_batch("COMMIT")?;
            Ok(header)
        }
        Err(err) => {
            // The read's own error says what is wrong; SQLite may have ended the transaction.
            let _ = conn.execute_batch("ROLLBACK");
            Err(err.into())
        }
    }
}

/// The `-wal` and `-shm` files of an open file database, as (device, inode), recorded when the
/// store opened: while any connection is open SQLite keeps both, so a change means someone
/// deleted or replaced them (see [`commit_checked`]).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Companions {
    wal: Option<(u64, u64)>,
    shm: Option<(u64, u64)>,
}

impl Companions {
    fn of(db_path: &str) -> Companions {
        if db_path.is_empty() {
            return Companions::default();
        }
        let id = |suffix| file_id(&with_suffix(Path::new(db_path), suffix));
        Companions { wal: id("-wal"), shm: id("-shm") }
    }

    /// Whether a file recorded here is gone or another file now (one not recorded is ignored).
    fn replaced_in(&self, now: &Companions) -> bool {
        let replaced = |then: Option<(u64, u64)>, now: Option<(u64, u64)>| then.is_some() && then != now;
        replaced(self.wal, now.wal) || replaced(self.shm, now.shm)
    }
}

/// (device, inode) of the file at `path`, by `stat` (no descriptor); `None` without one.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Whether a check looks at the database file only, or at its `-wal` and `-shm` too.
#[derive(Clone, Copy, PartialEq)]
enum Check {
    DatabaseFile,
    AllFiles,
}

/// Fails if the files this connection writes to are no longer those at their paths: the
/// database file deleted or replaced by a rename (SQLite itself tells, `SQLITE_FCNTL_HAS_MOVED`:
/// one `stat`), or with [`Check::AllFiles`] its `-wal` or `-shm` (two more `stat`s). A write
/// into such a file is lost, or is not where the next process looks: it must be an error.
fn files_in_place(conn: &Connection, companions: &Companions, check: Check) -> Result<()> {
    let mut moved: std::ffi::c_int = 0;
    // SAFETY: the connection's handle is valid while `conn` lives; HAS_MOVED writes one int.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_HAS_MOVED,
            (&mut moved as *mut std::ffi::c_int).cast(),
        )
    };
    let path = conn.path().unwrap_or("");
    // In-memory databases have no file (the call is not handled there).
    let db_moved = rc == rusqlite::ffi::SQLITE_OK && moved != 0;
    let companion_moved = check == Check::AllFiles && !path.is_empty() && companions.replaced_in(&Companions::of(path));
    if db_moved || companion_moved {
        let what = if db_moved { "database file" } else { "-wal or -shm file" };
        return Err(StoreError::Io(format!(
            "the {what} of {path} was deleted or replaced while the store was open, so writes no longer reach the database at that path; this write is not acknowledged. Stop every process using the database, then reopen the store"
        )));
    }
    Ok(())
}

/// Says why a database file could not be opened, when the reason is the file system's
/// permissions rather than SQLite: a file this user may not read and write, or a folder in
/// which SQLite cannot create the `-wal` and `-shm` files it needs beside the database.
/// Looks with `access(2)` only, never a descriptor (see `same_file`). Other errors pass.
fn explain_open_failure(path: &Path, err: StoreError) -> StoreError {
    if !matches!(err, StoreError::Io(_)) {
        return err;
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let shown = path.display();
    // The database, or the -wal and -shm beside it (left by a process of another user, say).
    for suffix in COMPANIONS {
        let file = with_suffix(path, suffix);
        if file.exists() && !may_access(&file, AccessMode::ReadWrite) {
            return StoreError::Io(format!(
                "permission denied: {} cannot be read and written by this user{}",
                file.display(),
                owner_and_mode(&file)
            ));
        }
    }
    if dir.is_dir() && !may_access(&dir, AccessMode::WriteDir) && !path.exists() {
        return StoreError::Io(format!(
            "permission denied: cannot create {shown}: the folder {} is not writable by this user{}",
            dir.display(),
            owner_and_mode(&dir)
        ));
    }
    if dir.is_dir() && !may_access(&dir, AccessMode::WriteDir) {
        let name = path.file_name().map_or_else(|| shown.to_string(), |n| n.to_string_lossy().into_owned());
        return StoreError::Io(format!(
            "permission denied: the folder {} is not writable by this user{}, and SQLite needs to create {name}-wal and {name}-shm beside the database (even to read it); make the folder writable",
            dir.display(),
            owner_and_mode(&dir)
        ));
    }
    err
}

enum AccessMode {
    /// Read and write a file.
    ReadWrite,
    /// Create files in a directory.
    WriteDir,
}

/// Whether this process may access `path` so (`access(2)`, which opens nothing).
fn may_access(path: &Path, mode: AccessMode) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return true };
        let bits = match mode {
            AccessMode::ReadWrite => libc::R_OK | libc::W_OK,
            AccessMode::WriteDir => libc::W_OK | libc::X_OK,
        };
        // SAFETY: a NUL-terminated path; access only reads it.
        unsafe { libc::access(c_path.as_ptr(), bits) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        std::fs::metadata(path).map_or(true, |m| !m.permissions().readonly())
    }
}

/// " (owner uid 1000, mode 0600)", for messages; empty where unknown.
fn owner_and_mode(path: &Path) -> String {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        return format!(" (owner uid {}, mode {:04o})", meta.uid(), meta.mode() & 0o7777);
    }
    let _ = path;
    String::new()
}

/// Runs `op`, retrying while the database is busy, up to the busy timeout. Switching to WAL
/// needs a lock that SQLite does not wait for by itself, so processes opening a new
/// database at the same moment would otherwise fail with "database is locked".
fn retry_while_busy<T>(mut op: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match op() {
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            result => return result,
        }
    }
}

fn check_ownership(version: i64, app_id: i32, tables: i64) -> Result<()> {
    let empty = version == 0 && app_id == 0 && tables == 0;
    if !empty && app_id != APPLICATION_ID {
        return Err(StoreError::corrupt("the file is a SQLite database of another application, not a baileys-rust-auth store"));
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::Version { found: version, supported: SCHEMA_VERSION });
    }
    Ok(())
}

/// Creates the database file readable by its owner only, unless it exists already (an
/// existing file keeps the mode its owner gave it) and `must_be_new` is false.
fn create_private_file(path: &Path, must_be_new: bool) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && !must_be_new => Ok(()),
        Err(e) => Err(StoreError::Io(format!("cannot create {}: {e}", path.display()))),
    }
}

/// The directory to sync after renaming the copy over `dest`, and the new file the copy is
/// written to first. `source` is the store's own file (empty in memory), which `dest` must not be.
fn backup_paths(dest: &Path, source: &str) -> Result<(PathBuf, PathBuf)> {
    if dest.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(StoreError::invalid("backup path must not contain NUL characters"));
    }
    let Some(name) = dest.file_name() else {
        return Err(StoreError::invalid(format!("backup path {} does not name a file", dest.display())));
    };
    let dir = match dest.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(StoreError::Io(format!("cannot back up to {}: {} is not a directory", dest.display(), dir.display()))),
        Err(e) => return Err(StoreError::Io(format!("cannot back up to {}: directory {}: {e}", dest.display(), dir.display()))),
    }
    if dest.is_dir() {
        return Err(StoreError::invalid(format!("backup path {} is a directory", dest.display())));
    }
    let target = dir.join(name);
    if !source.is_empty() {
        // Renaming a copy over the live file would detach it from its own WAL; over its -wal or
        // -shm, SQLite would lose the committed transactions the WAL holds.
        for suffix in COMPANIONS {
            if same_file(&with_suffix(Path::new(source), suffix), &target) {
                let what = if suffix.is_empty() { "database file".to_owned() } else { format!("{suffix} file") };
                return Err(StoreError::invalid(format!("a store cannot be backed up onto its own {what}")));
            }
        }
    }
    // Another database's companion file: replacing it loses that database's transactions.
    let name_text = name.to_string_lossy();
    for suffix in &COMPANIONS[1..] {
        if let Some(base) = name_text.strip_suffix(suffix) {
            if dir.join(base).is_file() {
                return Err(StoreError::invalid(format!(
                    "backup path {} is the {suffix} file of the SQLite database {base}: choose another name",
                    dest.display()
                )));
            }
        }
    }
    // A database in use (or left by a crash) has a -wal or -shm beside it: a new file renamed
    // under it would be read with that WAL, which belongs to the old file.
    for suffix in &COMPANIONS[1..] {
        if with_suffix(&target, suffix).symlink_metadata().is_ok() {
            return Err(StoreError::invalid(format!(
                "backup path {} is a SQLite database in use or not closed cleanly ({}{suffix} exists): back up to a new file, or close what uses it first",
                dest.display(),
                name.to_string_lossy()
            )));
        }
    }
    Ok((dir, create_temp_file(dest, name)?))
}

/// The files of a database: the file itself, then those SQLite keeps beside it.
const COMPANIONS: [&str; 4] = ["", "-wal", "-shm", "-journal"];

/// `path` with `suffix` appended to its file name (`auth.db` → `auth.db-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `sqlite:<device>:<inode>` of the file at `path` (SQLite's own, resolved path), or `None`
/// without a file (an in-memory database).
fn file_identity(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = &meta;
        Some(format!("sqlite:{}:{}", meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Some(format!("sqlite:{}", std::fs::canonicalize(path).ok()?.display()))
    }
}

/// Whether both paths name one existing file (the same device and inode, through any
/// symlink or hard link). Only `stat`: never a descriptor on a file SQLite may hold locks on.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        #[cfg(unix)]
        (Ok(a), Ok(b)) => {
            use std::os::unix::fs::MetadataExt;
            a.dev() == b.dev() && a.ino() == b.ino()
        }
        #[cfg(not(unix))]
        (Ok(_), Ok(_)) => matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b),
        _ => false,
    }
}

/// Creates a new, private file next to `dest` for the copy in progress: hidden, and named
/// after this process and the time, so that a file left by a crashed backup is never reused.
fn create_temp_file(dest: &Path, name: &OsStr) -> Result<PathBuf> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut attempt = 0;
    loop {
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut temp = OsString::from(".");
        temp.push(name);
        temp.push(format!(".{}-{}-{n}.backup-tmp", std::process::id(), now_millis()));
        let temp = dest.with_file_name(temp);
        match create_private_file(&temp, true) {
            Err(_) if attempt < 3 && temp.exists() => attempt += 1,
            created => return created.map(|()| temp),
        }
    }
}

/// Removes the temporary files that backups to `dest` killed midway left beside it (named by
/// [`create_temp_file`] after a process that no longer runs): each is a copy of every private
/// key of the store.
fn remove_abandoned_backups(dir: &Path, name: &OsStr) {
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split_once(".backup-tmp"))
            .and_then(|(stamp, _)| stamp.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !process_runs(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether a process with this id runs (on Unix; elsewhere, assume it does and keep its files).
fn process_runs(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else { return true };
        // SAFETY: signal 0 only checks that the process exists; nothing is sent.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        alive || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Removes a failed backup's temporary file and any file SQLite kept beside it.
fn remove_backup_files(temp: &Path) {
    for suffix in COMPANIONS {
        let _ = std::fs::remove_file(with_suffix(temp, suffix));
    }
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::Io(format!("cannot sync directory {}: {e}", dir.display())))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

impl SqliteStore {
    /// Copies the database into the new, empty file at `temp` and syncs it.
    fn backup_into(&mut self, temp: &Path) -> Result<()> {
        let mut dest = Connection::open_with_flags(temp, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| StoreError::Io(format!("cannot open {}: {e}", temp.display())))?;
        // The file is discarded unless the copy completes, and synced once at the end: a
        // journal and intermediate syncs would protect nothing.
        dest.pragma_update(None, "journal_mode", "OFF")?;
        dest.pragma_update(None, "synchronous", "OFF")?;
        // One read transaction across all steps: the copy is one snapshot, and in WAL mode
        // writers in other processes go on meanwhile without forcing the copy to restart.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        tx.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
        {
            let backup = Backup::new(&tx, &mut dest)?;
            let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
            loop {
                match backup.step(BACKUP_PAGES_PER_STEP)? {
                    StepResult::Done => break,
                    StepResult::More => {}
                    // Not expected with the snapshot held, but these are retryable by contract.
                    StepResult::Busy | StepResult::Locked if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    _ => return Err(StoreError::Io("backup: the database stayed locked".into())),
                }
            }
        }
        tx.commit()?;
        dest.close().map_err(|(_, e)| StoreError::from(e))?;
        // Opened for writing: Windows flushes only a handle with write access.
        std::fs::OpenOptions::new()
            .write(true)
            .open(temp)
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::Io(format!("cannot sync {}: {e}", temp.display())))
    }
}

impl Store for SqliteStore {
    fn get_creds(&mut self, session: &str) -> Result<Option<Vec<u8>>> {
        let mut stmt = self.conn.prepare_cached("SELECT creds FROM sessions WHERE name = ?1")?;
        let creds: Option<Option<Vec<u8>>> = stmt.query_row([session], |r| r.get(0)).optional()?;
        Ok(creds.flatten())
    }

    fn set_creds(&mut self, session: &str, creds: &[u8]) -> Result<()> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO sessions (name, creds, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET creds = excluded.creds, updated_at = excluded.updated_at",
            )?;
            stmt.execute(params![session, creds, now_millis()])?;
            Ok(())
        })
    }

    fn get_keys(&mut self, session: &str, kind: &str, ids: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        if let [id] = ids {
            // One statement is its own snapshot: no transaction needed.
            let mut stmt = self.conn.prepare_cached(
                "SELECT k.value FROM keys k JOIN sessions s ON s.id = k.session_id
                 WHERE s.name = ?1 AND k.type = ?2 AND k.id = ?3",
            )?;
            return Ok(vec![stmt.query_row(params![session, kind, id], |r| r.get(0)).optional()?]);
        }
        // One read transaction, so that all ids come from the same snapshot.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let values = {
            let mut stmt = tx.prepare_cached(
                "SELECT k.value FROM keys k JOIN sessions s ON s.id = k.session_id
                 WHERE s.name = ?1 AND k.type = ?2 AND k.id = ?3",
            )?;
            ids.iter()
                .map(|id| stmt.query_row(params![session, kind, id], |r| r.get(0)).optional())
                .collect::<rusqlite::Result<Vec<Option<Vec<u8>>>>>()?
        };
        tx.commit()?;
        Ok(values)
    }

    fn apply(&mut self, session: &str, writes: &[KeyWrite]) -> Result<()> {
        // One transaction: an error anywhere writes nothing.
        self.write(|tx| {
            let session_id = if writes.iter().any(|w| w.value.is_some()) {
                Self::session_id(tx, session)?
            } else {
                // Deletes only: nothing to do for a session that does not exist.
                let mut stmt = tx.prepare_cached("SELECT id FROM sessions WHERE name = ?1")?;
                match stmt.query_row([session], |r| r.get::<_, i64>(0)).optional()? {
                    Some(id) => id,
                    None => return Ok(()),
                }
            };
            let mut upsert = tx.prepare_cached(
                "INSERT INTO keys (session_id, type, id, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (session_id, type, id) DO UPDATE SET value = excluded.value",
            )?;
            let mut delete = tx.prepare_cached("DELETE FROM keys WHERE session_id = ?1 AND type = ?2 AND id = ?3")?;
            for write in writes {
                match &write.value {
                    Some(value) => upsert.execute(params![session_id, write.kind, write.id, value])?,
                    None => delete.execute(params![session_id, write.kind, write.id])?,
                };
            }
            tx.prepare_cached(TOUCH_SESSION)?.execute(params![session_id, now_millis()])?;
            Ok(())
        })
    }

    fn clear_keys(&mut self, session: &str) -> Result<()> {
        // One transaction, so that the keys and the session's time are one commit.
        self.write(|tx| {
            let id: Option<i64> =
                tx.prepare_cached("SELECT id FROM sessions WHERE name = ?1")?.query_row([session], |r| r.get(0)).optional()?;
            if let Some(id) = id {
                tx.prepare_cached("DELETE FROM keys WHERE session_id = ?1")?.execute([id])?;
                tx.prepare_cached(TOUCH_SESSION)?.execute(params![id, now_millis()])?;
            }
            Ok(())
        })
    }

    fn delete_session(&mut self, session: &str) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM sessions WHERE name = ?1")?.execute([session])?;
            Ok(())
        })
    }

    fn sessions(&mut self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name FROM sessions s
             WHERE creds IS NOT NULL OR EXISTS (SELECT 1 FROM keys k WHERE k.session_id = s.id)
             ORDER BY name",
        )?;
        let names = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(names)
    }

    fn list_keys(&mut self, session: &str) -> Result<Vec<KeyInfo>> {
        // TEXT compares with memcmp (BINARY collation): the byte order of the contract.
        let mut stmt = self.conn.prepare_cached(
            "SELECT k.type, k.id, length(k.value) FROM keys k JOIN sessions s ON s.id = k.session_id
             WHERE s.name = ?1 ORDER BY k.type, k.id",
        )?;
        let keys = stmt
            .query_map([session], |r| Ok(KeyInfo { kind: r.get(0)?, id: r.get(1)?, bytes: r.get(2)? }))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(keys)
    }

    fn stats(&mut self, session: &str) -> Result<SessionStats> {
        // One read transaction: the session row and its keys from the same snapshot.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let stats = {
            let row: Option<(i64, Option<u64>, i64)> = tx
                .prepare_cached("SELECT id, length(creds), updated_at FROM sessions WHERE name = ?1")?
                .query_row([session], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            match row {
                None => SessionStats::default(),
                Some((id, creds_bytes, updated_at)) => {
                    let mut stmt = tx.prepare_cached(
                        "SELECT type, count(*), sum(length(value)) FROM keys WHERE session_id = ?1 GROUP BY type ORDER BY type",
                    )?;
                    let kinds: Vec<KindStats> = stmt
                        .query_map([id], |r| Ok(KindStats { kind: r.get(0)?, count: r.get(1)?, bytes: r.get(2)? }))?
                        .collect::<rusqlite::Result<_>>()?;
                    // A row left without creds or keys is no session (see `sessions`).
                    let exists = creds_bytes.is_some() || !kinds.is_empty();
                    SessionStats { creds_bytes, kinds, updated_at_ms: exists.then_some(updated_at) }
                }
            }
        };
        tx.commit()?;
        Ok(stats)
    }

    /// Uses SQLite's online backup API on this store's connection: other processes can keep
    /// writing meanwhile (this store's own later operations wait their turn, as always). The
    /// copy goes to a hidden file beside `dest` (mode 0600), which is synced, renamed over
    /// `dest`, and the directory synced. A missing directory is `ERR_STORE_IO`; a path that
    /// names no file, a directory or the store's own file is `ERR_INVALID_ARG`.
    fn backup(&mut self, dest: &Path) -> Result<()> {
        let source = self.conn.path().unwrap_or("").to_owned();
        let (dir, temp) = backup_paths(dest, &source)?;
        if let Some(name) = dest.file_name() {
            remove_abandoned_backups(&dir, name);
        }
        let result = self.backup_into(&temp).and_then(|()| {
            std::fs::rename(&temp, dest).map_err(|e| StoreError::Io(format!("cannot replace {}: {e}", dest.display())))?;
            sync_dir(&dir)
        });
        if result.is_err() {
            remove_backup_files(&temp);
        }
        result
    }

    fn check(&mut self) -> Result<Vec<String>> {
        let mut problems: Vec<String> = {
            let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        problems.retain(|line| line != "ok");
        let mut stmt = self.conn.prepare("PRAGMA foreign_key_check")?;
        let orphans: i64 = stmt.query_map([], |_| Ok(()))?.count() as i64;
        if orphans > 0 {
            problems.push(format!("{orphans} keys belong to no session"));
        }
        Ok(problems)
    }

    fn identity(&self) -> String {
        self.identity.clone()
    }
}

impl Drop for SqliteStore {
    /// Folds the WAL back into the database file and empties it, so that a closed store is one
    /// self-contained file, also when SQLite itself would keep the WAL: it does not delete it
    /// when the database file was replaced meanwhile, and the next process would read that WAL
    /// in front of the new file. Never waits: a checkpoint that truncates the WAL must wait
    /// for every reader, holding the write lock meanwhile, which would stall the writes of
    /// other processes for up to the busy timeout; with readers about, the WAL is theirs.
    fn drop(&mut self) {
        let _ = self.conn.busy_timeout(Duration::ZERO);
        if let Err(e) = self.conn.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
            tracing::debug!(error = %e, "wal checkpoint on close skipped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("bra-sqlite-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("auth.db")
    }

    #[cfg(unix)]
    #[test]
    fn new_database_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_path("mode");
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("s", b"\x01\x00").unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", path.display());
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}");
        }
    }

    #[test]
    fn newer_schema_is_refused_untouched() {
        let path = temp_path("newer");
        drop(SqliteStore::open(&path).unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = SqliteStore::open(&path).err().unwrap();
        assert_eq!(err, StoreError::Version { found: SCHEMA_VERSION + 1, supported: SCHEMA_VERSION });
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn foreign_database_is_refused() {
        let path = temp_path("foreign");
        Connection::open(&path).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
        assert_eq!(SqliteStore::open(&path).err().unwrap().code(), "ERR_STORE_CORRUPT");
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_corrupt() {
        let path = temp_path("garbage");
        std::fs::write(&path, vec![0x42; 4096]).unwrap();
        assert_eq!(SqliteStore::open(&path).err().unwrap().code(), "ERR_STORE_CORRUPT");
    }

    #[test]
    fn a_missing_directory_is_an_io_error() {
        let path = std::path::Path::new("/nonexistent-dir-for-test/auth.db");
        assert_eq!(SqliteStore::open(path).err().unwrap().code(), "ERR_STORE_IO");
    }

    #[test]
    fn many_connections_creating_one_database_at_once_all_succeed() {
        for round in 0..20 {
            let path = temp_path(&format!("race-{round}"));
            let openers: Vec<_> = (0..4)
                .map(|_| {
                    let path = path.clone();
                    std::thread::spawn(move || SqliteStore::open(&path).map(drop))
                })
                .collect();
            for opener in openers {
                assert_eq!(opener.join().unwrap(), Ok(()), "round {round}");
            }
        }
    }

    #[test]
    fn reopening_keeps_data_and_schema() {
        let path = temp_path("reopen");
        let mut store = SqliteStore::open(&path).unwrap();
        store.apply("s", &[KeyWrite { kind: "pre-key".into(), id: "1".into(), value: Some(vec![1, 9]) }]).unwrap();
        drop(store);
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.get_keys("s", "pre-key", &["1".into()]).unwrap(), vec![Some(vec![1, 9])]);
    }

    fn put(kind: &str, id: &str, value: &[u8]) -> KeyWrite {
        KeyWrite { kind: kind.into(), id: id.into(), value: Some(value.to_vec()) }
    }

    /// A session, its creds, and every key with its value.
    type Dumped = (String, Option<Vec<u8>>, Vec<(KeyInfo, Option<Vec<u8>>)>);

    /// Every session of the store.
    fn dump(store: &mut SqliteStore) -> Vec<Dumped> {
        let mut out = Vec::new();
        for session in store.sessions().unwrap() {
            let creds = store.get_creds(&session).unwrap();
            let mut keys = Vec::new();
            for key in store.list_keys(&session).unwrap() {
                let value = store.get_keys(&session, &key.kind, std::slice::from_ref(&key.id)).unwrap().remove(0);
                keys.push((key, value));
            }
            out.push((session, creds, keys));
        }
        out
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_backup_is_a_complete_private_store_and_the_original_stays_in_use() {
        let path = temp_path("backup");
        let dir = path.parent().unwrap().to_path_buf();
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("a", b"creds-a").unwrap();
        for batch in 0..20 {
            let writes: Vec<KeyWrite> =
                (0..500).map(|i| put(["session", "pre-key"][i % 2], &format!("{batch}-{i}"), &[i as u8; 200])).collect();
            store.apply(if batch % 2 == 0 { "a" } else { "b" }, &writes).unwrap();
        }
        let dest = dir.join("copy.db");
        // An existing file is replaced whole, whatever it held and whatever its mode.
        std::fs::write(&dest, b"not a database").unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(&dest, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        let before = dump(&mut store);
        store.backup(&dest).unwrap();
        store.apply("a", &[put("session", "after", b"x")]).unwrap();

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(files_in(&dir), ["auth.db", "auth.db-shm", "auth.db-wal", "copy.db"], "no temporary file is left");
        let mut copy = SqliteStore::open(&dest).unwrap();
        assert!(copy.check().unwrap().is_empty());
        let copied = dump(&mut copy);
        assert_eq!(copied.iter().map(|(_, _, keys)| keys.len()).sum::<usize>(), 10_000);
        assert_eq!(copied, before, "the copy holds every key, and nothing written after it");
        assert_ne!(dump(&mut store), before, "the original went on");
        drop(copy);

        // Again, over the previous backup.
        store.backup(&dest).unwrap();
        assert_eq!(dump(&mut SqliteStore::open(&dest).unwrap()), dump(&mut store));
    }

    #[test]
    fn a_backup_is_one_snapshot_while_another_process_writes() {
        let path = temp_path("backup-live");
        let dest = path.with_file_name("copy.db");
        let mut store = SqliteStore::open(&path).unwrap();
        // Enough pages that the copy takes many steps.
        let filler: Vec<KeyWrite> = (0..12_000).map(|i| put("filler", &i.to_string(), &[1; 1000])).collect();
        store.apply("s", &filler).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (path, stop) = (path.clone(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                // Each batch writes the same counter to both keys; a torn copy would differ.
                let mut other = SqliteStore::open(&path).unwrap();
                let mut n: u32 = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let v = n.to_le_bytes();
                    other
                        .apply(
                            "s",
                            &[put("pair", "a", &v), put("pair", "b", &v), put("filler", &(n % 12_000).to_string(), &[n as u8; 1000])],
                        )
                        .unwrap();
                }
                n
            })
        };
        for _ in 0..5 {
            store.backup(&dest).unwrap();
            let mut copy = SqliteStore::open(&dest).unwrap();
            assert!(copy.check().unwrap().is_empty());
            let pair = copy.get_keys("s", "pair", &["a".into(), "b".into()]).unwrap();
            assert_eq!(pair[0], pair[1]);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(writer.join().unwrap() > 0);
    }

    #[test]
    fn bad_backup_destinations_are_refused_and_leave_nothing() {
        let path = temp_path("backup-bad");
        let dir = path.parent().unwrap().to_path_buf();
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("s", b"c").unwrap();
        let before = files_in(&dir);
        let code = |store: &mut SqliteStore, dest: &Path| store.backup(dest).unwrap_err().code();
        assert_eq!(code(&mut store, Path::new("/nonexistent-dir-for-test/copy.db")), "ERR_STORE_IO");
        assert_eq!(code(&mut store, &dir), "ERR_INVALID_ARG");
        assert_eq!(code(&mut store, &path), "ERR_INVALID_ARG");
        assert_eq!(code(&mut store, &dir.join("..").join(dir.file_name().unwrap()).join("auth.db")), "ERR_INVALID_ARG");
        assert_eq!(code(&mut store, &dir.join("a\0b")), "ERR_INVALID_ARG");
        assert_eq!(files_in(&dir), before);
        assert_eq!(store.get_creds("s").unwrap(), Some(b"c".to_vec()));
    }

    #[test]
    fn key_writes_refresh_the_session_time_at_most_once_a_second() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        store.set_creds("s", b"c").unwrap();
        let time = |store: &mut SqliteStore| store.stats("s").unwrap().updated_at_ms.unwrap();
        store.conn.execute("UPDATE sessions SET updated_at = updated_at - 500", []).unwrap();
        let recent = time(&mut store);
        store.apply("s", &[put("t", "1", b"v")]).unwrap();
        assert_eq!(time(&mut store), recent, "less than a second old: left alone");
        store.conn.execute("UPDATE sessions SET updated_at = updated_at - 1000", []).unwrap();
        let old = time(&mut store);
        store.apply("s", &[put("t", "1", b"w")]).unwrap();
        assert!(time(&mut store) >= old + 1000);
    }

    /// A copy of a checked-in database file written by version 1 of the schema (commit
    /// 746e178): sessions alice and bob with creds and keys, and a session deleted afterwards by
    /// the sqlite3 shell without foreign keys, so that its two keys were left behind.
    fn schema_v1_fixture(name: &str) -> PathBuf {
        let path = temp_path(name);
        std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/schema-v1.db"), &path).unwrap();
        path
    }

    /// Every (session, creds) and (session, type, id, value) row, read with plain SQL.
    type RawRows = (Vec<(String, Option<Vec<u8>>)>, Vec<(String, String, String, Vec<u8>)>);

    fn raw_rows(path: &Path) -> RawRows {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let sessions = conn
            .prepare("SELECT name, creds FROM sessions ORDER BY name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let keys = conn
            .prepare("SELECT s.name, k.type, k.id, k.value FROM keys k JOIN sessions s ON s.id = k.session_id ORDER BY 1, 2, 3")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        (sessions, keys)
    }

    #[test]
    fn a_version_1_database_is_upgraded_keeping_every_session_and_key_byte_for_byte() {
        let path = schema_v1_fixture("upgrade-v1");
        let (sessions, keys) = raw_rows(&path);
        assert_eq!(sessions.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), ["alice", "bob"]);
        assert_eq!(keys.len(), 9);
        let orphans: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM keys WHERE session_id NOT IN (SELECT id FROM sessions)", [], |r| r.get(0))
            .unwrap();
        assert_eq!(orphans, 2, "the fixture holds the keys of a session deleted without foreign keys");

        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)).unwrap(), SCHEMA_VERSION);
        assert_eq!(store.sessions().unwrap(), ["alice", "bob"]);
        for (name, creds) in &sessions {
            assert_eq!(&store.get_creds(name).unwrap(), creds, "creds of {name}");
        }
        for (session, kind, id, value) in &keys {
            assert_eq!(
                store.get_keys(session, kind, std::slice::from_ref(id)).unwrap(),
                vec![Some(value.clone())],
                "{session} {kind} {id}"
            );
        }
        assert!(store.check().unwrap().is_empty());
        drop(store);
        assert_eq!(raw_rows(&path), (sessions, keys), "nothing else changed");
    }

    #[test]
    fn a_new_session_never_inherits_the_keys_of_a_session_deleted_without_foreign_keys() {
        // The deleted session had the highest row id: version 1 gave it to the next session.
        let path = schema_v1_fixture("no-reuse-v1");
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("carol", b"\x01\x00").unwrap();
        assert_eq!(store.list_keys("carol").unwrap(), vec![], "carol has no keys of her own");
        assert_eq!(store.get_keys("carol", "session", &["victim.0".into()]).unwrap(), vec![None]);

        // And after the upgrade, deleting the newest session without foreign keys frees no id.
        store.apply("carol", &[put("session", "mine", b"\x01\x00")]).unwrap();
        store.conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
        store.conn.execute("DELETE FROM sessions WHERE name = 'carol'", []).unwrap();
        store.conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        store.set_creds("dave", b"\x01\x00").unwrap();
        assert_eq!(store.list_keys("dave").unwrap(), vec![]);
        assert_eq!(store.check().unwrap(), ["1 keys belong to no session"], "carol's key is an orphan, not dave's");
    }

    #[test]
    fn a_write_after_the_database_file_was_deleted_or_replaced_is_an_io_error() {
        let path = temp_path("moved");
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("s", b"c").unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(store.set_creds("s", b"d").unwrap_err().code(), "ERR_STORE_IO");
        assert_eq!(store.apply("s", &[put("t", "1", b"v")]).unwrap_err().code(), "ERR_STORE_IO");
        assert_eq!(store.clear_keys("s").unwrap_err().code(), "ERR_STORE_IO");
        assert_eq!(store.delete_session("s").unwrap_err().code(), "ERR_STORE_IO");
        drop(store);

        let path = temp_path("replaced");
        let other = path.with_file_name("other.db");
        drop(SqliteStore::open(&other).unwrap());
        let mut store = SqliteStore::open(&path).unwrap();
        store.apply("s", &[put("t", "1", b"v")]).unwrap();
        std::fs::rename(&other, &path).unwrap();
        let err = store.apply("s", &[put("t", "2", b"v")]).unwrap_err();
        assert_eq!(err.code(), "ERR_STORE_IO");
        assert!(err.to_string().contains("deleted or replaced"), "{err}");
        drop(store);
        assert_eq!(SqliteStore::open(&path).unwrap().list_keys("s").unwrap(), vec![], "the file at the path never got the write");
    }

    #[test]
    fn a_backup_never_replaces_a_live_databases_files() {
        let path = temp_path("backup-live-files");
        let dir = path.parent().unwrap().to_path_buf();
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("s", b"c").unwrap();
        let other_path = dir.join("other.db");
        let mut other = SqliteStore::open(&other_path).unwrap();
        other.set_creds("o", b"x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&path, dir.join("link.db")).unwrap();
        std::fs::hard_link(&path, dir.join("hard.db")).unwrap();
        let before = files_in(&dir);
        for dest in ["auth.db-wal", "auth.db-shm", "other.db", "other.db-wal", "hard.db"].iter().chain(cfg!(unix).then_some(&"link.db")) {
            let err = store.backup(&dir.join(dest)).unwrap_err();
            assert_eq!(err.code(), "ERR_INVALID_ARG", "{dest}: {err}");
        }
        assert_eq!(files_in(&dir), before, "nothing was written");
        assert_eq!(store.get_creds("s").unwrap(), Some(b"c".to_vec()));
        assert_eq!(other.get_creds("o").unwrap(), Some(b"x".to_vec()));
        drop((store, other));
        let mut reopened = SqliteStore::open(&other_path).unwrap();
        assert!(reopened.check().unwrap().is_empty());
        assert_eq!(reopened.get_creds("o").unwrap(), Some(b"x".to_vec()));
    }

    #[test]
    fn a_write_after_the_wal_or_shm_was_deleted_is_an_io_error() {
        for gone in [["-wal", "-shm"], ["-wal", ""], ["-shm", ""]] {
            let path = temp_path(&format!("companions{}", gone.concat()));
            let mut store = SqliteStore::open(&path).unwrap();
            store.apply("s", &[put("t", "1", b"v")]).unwrap();
            for suffix in gone.iter().filter(|s| !s.is_empty()) {
                std::fs::remove_file(with_suffix(&path, suffix)).unwrap();
            }
            let err = store.apply("s", &[put("t", "2", b"v")]).unwrap_err();
            assert_eq!(err.code(), "ERR_STORE_IO", "{gone:?}");
            assert!(err.to_string().contains("-wal or -shm"), "{err}");
            assert_eq!(store.set_creds("s", b"c").unwrap_err().code(), "ERR_STORE_IO");
        }
    }

    #[test]
    fn a_write_to_a_database_moved_away_is_refused_before_it_is_written() {
        let path = temp_path("moved-before");
        let other_name = path.with_file_name("other-name.db");
        let mut store = SqliteStore::open(&path).unwrap();
        store.apply("s", &[put("t", "1", b"v")]).unwrap();
        // The same file stays reachable under another name: a write must not reach it.
        std::fs::hard_link(&path, &other_name).unwrap();
        std::fs::rename(&path, path.with_file_name("renamed.db")).unwrap();
        assert_eq!(store.apply("s", &[put("t", "2", b"v")]).unwrap_err().code(), "ERR_STORE_IO");
        drop(store);
        let conn = Connection::open_with_flags(&other_name, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let ids: Vec<String> =
            conn.prepare("SELECT id FROM keys").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(ids, ["1"], "the refused write is not in the file");
    }

    #[test]
    fn without_create_an_empty_file_is_not_found_and_an_older_schema_is_not_upgraded() {
        let path = temp_path("no-create");
        assert_eq!(SqliteStore::open_with(&path, false).err().unwrap().code(), "ERR_STORE_NOT_FOUND");
        assert!(!path.exists());
        std::fs::write(&path, b"").unwrap();
        assert_eq!(SqliteStore::open_with(&path, false).err().unwrap().code(), "ERR_STORE_NOT_FOUND");
        assert_eq!(std::fs::read(&path).unwrap(), b"", "the empty file stays empty");

        let v1 = schema_v1_fixture("no-upgrade");
        let before = std::fs::read(&v1).unwrap();
        let err = SqliteStore::open_with(&v1, false).err().unwrap();
        assert_eq!(err, StoreError::OlderSchema { found: 1, current: SCHEMA_VERSION });
        assert_eq!(err.code(), "ERR_STORE_VERSION");
        assert_eq!(std::fs::read(&v1).unwrap(), before, "the file is left as it was");
        SqliteStore::open(&v1).unwrap();
        assert!(SqliteStore::open_with(&v1, false).is_ok(), "once upgraded, it opens");
    }

    #[test]
    fn a_backup_removes_the_copies_that_killed_backups_left_behind() {
        let path = temp_path("abandoned");
        let dir = path.parent().unwrap().to_path_buf();
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("s", b"c").unwrap();
        // A process that has exited: its pid runs no more.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let left = [format!(".copy.db.{dead}-1-0.backup-tmp"), format!(".copy.db.{dead}-1-0.backup-tmp-journal")];
        let alive = format!(".copy.db.{}-1-0.backup-tmp", std::process::id());
        for name in left.iter().chain([&alive]) {
            std::fs::write(dir.join(name), b"private keys").unwrap();
        }
        store.backup(&dir.join("copy.db")).unwrap();
        for name in &left {
            assert!(!dir.join(name).exists(), "{name} was removed");
        }
        assert!(dir.join(&alive).exists(), "a running process's copy in progress is left alone");
    }

    #[test]
    fn a_read_failing_when_a_store_opens_reports_its_own_error() {
        // A second name (a hard link) for a database this process has open: SQLite refuses it
        // with a disk I/O error, which must not be hidden by the end of the read's transaction.
        let path = temp_path("hard-link-open");
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("s", b"c").unwrap();
        let link = path.with_file_name("link.db");
        std::fs::hard_link(&path, &link).unwrap();
        if let Err(err) = SqliteStore::open(&link) {
            assert!(!err.to_string().contains("no transaction is active"), "{err}");
        }
    }
}
