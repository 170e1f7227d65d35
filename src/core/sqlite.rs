//! The embedded default: one SQLite database file holds any number of sessions.
//!
//! - Durability: WAL journal with `synchronous=FULL`, so a write is on disk before the
//!   call that made it is acknowledged; a key batch is one `IMMEDIATE` transaction.
//! - Privacy: a new database file is created with mode 0600 (SQLite gives its `-wal` and
//!   `-shm` files the same mode), because it holds private keys.
//! - Versioning: `PRAGMA user_version` is the schema version and `application_id` marks the
//!   file as ours. Migrations run one step at a time, each in its own transaction; a
//!   database from a newer version is refused before anything is written to it.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::error::{Result, StoreError};
use super::store::{KeyWrite, Store};

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
];

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a write waits for another process holding the database's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`. Its directory must exist.
    pub fn open(path: &Path) -> Result<Self> {
        create_private_file(path)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Io(format!("cannot open {}: {e}", path.display())))?;
        Self::init(conn)
    }

    /// A private database in memory, gone when the store closes.
    pub fn open_in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Read the version before any pragma that writes, so that a database we must refuse
        // is left byte for byte as it was.
        let (version, app_id, tables) = read_header(&conn)?;
        check_ownership(version, app_id, tables)?;
        retry_while_busy(|| conn.pragma_update(None, "journal_mode", "WAL"))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = SqliteStore { conn };
        store.migrate(version)?;
        Ok(store)
    }

    fn migrate(&mut self, from: i64) -> Result<()> {
        for (step, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Another process may have migrated while we waited for the lock.
            let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if current > step as i64 {
                continue;
            }
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            tx.pragma_update(None, "user_version", step as i64 + 1)?;
            tx.commit()?;
            tracing::debug!(version = step + 1, "sqlite schema migrated");
        }
        Ok(())
    }

    /// The session row's id, creating the row if needed, inside the caller's transaction.
    /// An existing row is not written to: a key batch then touches only the pages of its keys,
    /// which keeps each commit (and its fsync) small.
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
    conn.execute_batch("COMMIT")?;
    Ok(header?)
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
        return Err(StoreError::corrupt(
            "the file is a SQLite database of another application, not a baileys-rust-auth store",
        ));
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::Version { found: version, supported: SCHEMA_VERSION });
    }
    Ok(())
}

/// Creates the database file readable by its owner only, unless it exists already (an
/// existing file keeps the mode its owner gave it).
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Io(format!("cannot create {}: {e}", path.display()))),
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Store for SqliteStore {
    fn get_creds(&mut self, session: &str) -> Result<Option<Vec<u8>>> {
        let mut stmt = self.conn.prepare_cached("SELECT creds FROM sessions WHERE name = ?1")?;
        let creds: Option<Option<Vec<u8>>> = stmt.query_row([session], |r| r.get(0)).optional()?;
        Ok(creds.flatten())
    }

    fn set_creds(&mut self, session: &str, creds: &[u8]) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO sessions (name, creds, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET creds = excluded.creds, updated_at = excluded.updated_at",
        )?;
        stmt.execute(params![session, creds, now_millis()])?;
        Ok(())
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
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let session_id = if writes.iter().any(|w| w.value.is_some()) {
            Self::session_id(&tx, session)?
        } else {
            // Deletes only: nothing to do for a session that does not exist.
            let mut stmt = tx.prepare_cached("SELECT id FROM sessions WHERE name = ?1")?;
            match stmt.query_row([session], |r| r.get::<_, i64>(0)).optional()? {
                Some(id) => id,
                None => return Ok(()),
            }
        };
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO keys (session_id, type, id, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (session_id, type, id) DO UPDATE SET value = excluded.value",
            )?;
            let mut delete =
                tx.prepare_cached("DELETE FROM keys WHERE session_id = ?1 AND type = ?2 AND id = ?3")?;
            for write in writes {
                match &write.value {
                    Some(value) => upsert.execute(params![session_id, write.kind, write.id, value])?,
                    None => delete.execute(params![session_id, write.kind, write.id])?,
                };
            }
        }
        // Dropping an uncommitted transaction rolls it back, so an error above writes nothing.
        tx.commit()?;
        Ok(())
    }

    fn clear_keys(&mut self, session: &str) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "DELETE FROM keys WHERE session_id = (SELECT id FROM sessions WHERE name = ?1)",
        )?;
        stmt.execute([session])?;
        Ok(())
    }

    fn delete_session(&mut self, session: &str) -> Result<()> {
        let mut stmt = self.conn.prepare_cached("DELETE FROM sessions WHERE name = ?1")?;
        stmt.execute([session])?;
        Ok(())
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
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Fold the WAL back into the main file so a closed store is one self-contained file.
        if let Err(e) = self.conn.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
            tracing::debug!(error = %e, "wal checkpoint on close failed");
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
        store
            .apply("s", &[KeyWrite { kind: "pre-key".into(), id: "1".into(), value: Some(vec![1, 9]) }])
            .unwrap();
        drop(store);
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.get_keys("s", "pre-key", &["1".into()]).unwrap(), vec![Some(vec![1, 9])]);
    }
}
