//! Opening a database: the file created private (0600), the pragmas (set outside any
//! transaction), the header checks that refuse a foreign or newer file before anything is
//! written to it, the upgrade ([`migrate`](super::migrate)), and the checks that the files a
//! connection writes to are still those at its path (file identity, `-wal`/`-shm`). When the
//! file system refuses, [`explain_open_failure`] says which permission is missing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::migrate::{migrate, APPLICATION_ID, SCHEMA_VERSION};
use crate::core::error::{Result, StoreError};
use crate::core::store::private_identity;

/// How long a write waits for another process holding the database's write lock.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// An open connection, set up and at this schema version, with what the store checks its
/// writes against.
pub(super) struct Opened {
    pub conn: Connection,
    /// The `-wal` and `-shm` as they were at open, see [`files_in_place`].
    pub companions: Companions,
    /// The database file's device and inode (a private id in memory).
    pub identity: String,
}

/// Opens the database file at `path` (see `SqliteStore::open_with`); without `create`, a
/// missing file is [`StoreError::NotFound`] and nothing is created.
pub(super) fn open_file(path: &Path, create: bool) -> Result<Opened> {
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
    init(conn, create).map_err(|e| explain_open_failure(path, e))
}

/// A private database in memory, gone when the store closes.
pub(super) fn open_memory() -> Result<Opened> {
    init(Connection::open_in_memory()?, true)
}

/// Sets the connection up and brings the schema to this version. Without `create`, the file
/// must already be a store of this schema version: an empty file is `NotFound`, and an
/// older one is refused (`OlderSchema`) rather than upgraded, so that a tool that only looks
/// never changes a database an application of the older version still uses.
fn init(mut conn: Connection, create: bool) -> Result<Opened> {
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
    let identity = file_identity(conn.path().unwrap_or("")).unwrap_or_else(|| private_identity("sqlite-memory"));
    if version < SCHEMA_VERSION {
        migrate(&mut conn)?;
    }
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Both exist now: opening in WAL mode (`read_header`) created them.
    let companions = Companions::of(conn.path().unwrap_or(""));
    Ok(Opened { conn, companions, identity })
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
/// deleted or replaced them (see [`files_in_place`]).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(super) struct Companions {
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
pub(super) enum Check {
    DatabaseFile,
    AllFiles,
}

/// Fails if the files this connection writes to are no longer those at their paths: the
/// database file deleted or replaced by a rename (SQLite itself tells, `SQLITE_FCNTL_HAS_MOVED`:
/// one `stat`), or with [`Check::AllFiles`] its `-wal` or `-shm` (two more `stat`s). A write
/// into such a file is lost, or is not where the next process looks: it must be an error.
pub(super) fn files_in_place(conn: &Connection, companions: &Companions, check: Check) -> Result<()> {
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
    // No version of this code writes one; the upgrade would read it as "past every step".
    if version < 0 {
        return Err(StoreError::corrupt(format!("the file's schema version {version} is not one this package ever wrote")));
    }
    Ok(())
}

/// Creates the database file readable by its owner only, unless it exists already (an
/// existing file keeps the mode its owner gave it) and `must_be_new` is false.
pub(super) fn create_private_file(path: &Path, must_be_new: bool) -> Result<()> {
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

/// The files of a database: the file itself, then those SQLite keeps beside it.
pub(super) const COMPANIONS: [&str; 4] = ["", "-wal", "-shm", "-journal"];

/// `path` with `suffix` appended to its file name (`auth.db` → `auth.db-wal`).
pub(super) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
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
pub(super) fn same_file(a: &Path, b: &Path) -> bool {
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

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, OpenFlags};

    use super::with_suffix;
    use crate::core::sqlite::test_support::{put, temp_path};
    use crate::core::sqlite::SqliteStore;
    use crate::core::store::Store;

    #[cfg(unix)]
    #[test]
    fn new_database_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_path("mode");
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("s", b"\x01\x00", None).unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", path.display());
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}");
        }
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
    fn a_write_after_the_database_file_was_deleted_or_replaced_is_an_io_error() {
        let path = temp_path("moved");
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("s", b"c", None).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(store.set_creds("s", b"d", None).unwrap_err().code(), "ERR_STORE_IO");
        assert_eq!(store.apply("s", &[put("t", "1", b"v")], None).unwrap_err().code(), "ERR_STORE_IO");
        assert_eq!(store.clear_keys("s", None).unwrap_err().code(), "ERR_STORE_IO");
        assert_eq!(store.delete_session("s", None).unwrap_err().code(), "ERR_STORE_IO");
        drop(store);

        let path = temp_path("replaced");
        let other = path.with_file_name("other.db");
        drop(SqliteStore::open(&other).unwrap());
        let mut store = SqliteStore::open(&path).unwrap();
        store.apply("s", &[put("t", "1", b"v")], None).unwrap();
        std::fs::rename(&other, &path).unwrap();
        let err = store.apply("s", &[put("t", "2", b"v")], None).unwrap_err();
        assert_eq!(err.code(), "ERR_STORE_IO");
        assert!(err.to_string().contains("deleted or replaced"), "{err}");
        drop(store);
        assert_eq!(SqliteStore::open(&path).unwrap().list_keys("s").unwrap(), vec![], "the file at the path never got the write");
    }

    #[test]
    fn a_write_after_the_wal_or_shm_was_deleted_is_an_io_error() {
        for gone in [["-wal", "-shm"], ["-wal", ""], ["-shm", ""]] {
            let path = temp_path(&format!("companions{}", gone.concat()));
            let mut store = SqliteStore::open(&path).unwrap();
            store.apply("s", &[put("t", "1", b"v")], None).unwrap();
            for suffix in gone.iter().filter(|s| !s.is_empty()) {
                std::fs::remove_file(with_suffix(&path, suffix)).unwrap();
            }
            let err = store.apply("s", &[put("t", "2", b"v")], None).unwrap_err();
            assert_eq!(err.code(), "ERR_STORE_IO", "{gone:?}");
            assert!(err.to_string().contains("-wal or -shm"), "{err}");
            assert_eq!(store.set_creds("s", b"c", None).unwrap_err().code(), "ERR_STORE_IO");
        }
    }

    #[test]
    fn a_write_to_a_database_moved_away_is_refused_before_it_is_written() {
        let path = temp_path("moved-before");
        let other_name = path.with_file_name("other-name.db");
        let mut store = SqliteStore::open(&path).unwrap();
        store.apply("s", &[put("t", "1", b"v")], None).unwrap();
        // The same file stays reachable under another name: a write must not reach it.
        std::fs::hard_link(&path, &other_name).unwrap();
        std::fs::rename(&path, path.with_file_name("renamed.db")).unwrap();
        assert_eq!(store.apply("s", &[put("t", "2", b"v")], None).unwrap_err().code(), "ERR_STORE_IO");
        drop(store);
        let conn = Connection::open_with_flags(&other_name, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let ids: Vec<String> =
            conn.prepare("SELECT id FROM keys").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(ids, ["1"], "the refused write is not in the file");
    }

    #[test]
    fn a_read_failing_when_a_store_opens_reports_its_own_error() {
        // A second name (a hard link) for a database this process has open: SQLite refuses it
        // with a disk I/O error, which must not be hidden by the end of the read's transaction.
        let path = temp_path("hard-link-open");
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("s", b"c", None).unwrap();
        let link = path.with_file_name("link.db");
        std::fs::hard_link(&path, &link).unwrap();
        if let Err(err) = SqliteStore::open(&link) {
            assert!(!err.to_string().contains("no transaction is active"), "{err}");
        }
    }
}
