//! Answers key reads of a SQLite store without the trip to its worker thread, and never with a
//! value the database no longer holds.
//!
//! The worker thread fills the cache: with the values it reads, and with what it commits
//! itself. The JavaScript thread reads it ([`ReadCache::lookup`]), only when none of the
//! store's operations is pending (so a read never overtakes a write issued before it).
//!
//! A value is served only while the database is exactly as the worker last saw it:
//! - Every committed transaction, by any connection of any process, rewrites the header of
//!   the WAL index, the shared memory (`<db>-shm`) through which SQLite's connections
//!   coordinate (<https://sqlite.org/walformat.html>). [`ReadCache::lookup`] compares that
//!   header with the one the worker recorded after its last operation: any commit since, a
//!   checkpoint that restarted the WAL, or a write in progress makes it miss.
//! - After each operation the worker reads the header, then asks SQLite whether another
//!   connection has committed since its previous operation (`PRAGMA data_version`, which
//!   ignores the connection's own commits). If one has, everything cached is dropped, since
//!   it may have changed anything. Otherwise the worker's own writes are applied to the
//!   cache and the header is recorded. Reading the header first means a commit that slips
//!   in between is either seen by `data_version` or changes the header after the recording.
//!
//! Only committed values enter the cache: a write enters it after its commit succeeded, and a
//! failed operation empties it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use super::error::Result;
use super::store::{KeyInfo, KeyWrite, SessionStats, Store};

/// Bytes of one copy of the WAL-index header.
const HEADER_BYTES: usize = 48;
/// Offset of `isInit`, non-zero once the header was written.
const IS_INIT: usize = 12;
/// Beyond this many bytes of cached values the cache starts over.
const MAX_CACHED_BYTES: usize = 64 << 20;

/// One copy of the WAL-index header, as bytes.
pub type WalHeader = [u8; HEADER_BYTES];

/// A read-only mapping of the start of `<db>-shm`.
struct WalIndex {
    map: *const u8,
    len: usize,
}

// The mapping is read-only memory shared with SQLite; reads race with SQLite's writers by
// design and are checked the way SQLite's own readers check them (two copies that agree).
unsafe impl Send for WalIndex {}
unsafe impl Sync for WalIndex {}

impl WalIndex {
    #[cfg(unix)]
    fn open(shm: &Path) -> Option<WalIndex> {
        use std::os::unix::io::AsRawFd;
        let file = std::fs::File::open(shm).ok()?;
        let len = 2 * HEADER_BYTES;
        if file.metadata().ok()?.len() < len as u64 {
            return None;
        }
        // SAFETY: a shared read-only mapping of an open file; the file may close after mmap.
        let map = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0)
        };
        if map == libc::MAP_FAILED {
            return None;
        }
        Some(WalIndex { map: map.cast(), len })
    }

    #[cfg(not(unix))]
    fn open(_shm: &Path) -> Option<WalIndex> {
        None
    }

    /// The header, if its two copies agree (they differ while a writer updates them).
    fn header(&self) -> Option<WalHeader> {
        let mut copies = [[0u8; HEADER_BYTES]; 2];
        for (n, copy) in copies.iter_mut().enumerate() {
            for (i, byte) in copy.iter_mut().enumerate() {
                // SAFETY: within the mapping; volatile because another process writes it.
                *byte = unsafe { std::ptr::read_volatile(self.map.add(n * HEADER_BYTES + i)) };
            }
            std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        }
        (copies[0] == copies[1] && copies[0][IS_INIT] != 0).then_some(copies[0])
    }
}

impl Drop for WalIndex {
    fn drop(&mut self) {
        #[cfg(unix)]
        // SAFETY: the mapping made in `open`, unmapped once.
        unsafe {
            libc::munmap(self.map as *mut libc::c_void, self.len);
        }
    }
}

type Key = (String, String); // (type, id)

#[derive(Default)]
struct State {
    /// The header when the cache last matched the database; `None`: serve nothing.
    known: Option<WalHeader>,
    /// session → (type, id) → value, `None` meaning "known to be absent".
    sessions: HashMap<String, HashMap<Key, Option<Vec<u8>>>>,
    bytes: usize,
}

/// What an entry counts toward [`MAX_CACHED_BYTES`].
fn entry_size(kind: &str, id: &str, value: Option<&[u8]>) -> usize {
    kind.len() + id.len() + value.map_or(0, <[u8]>::len)
}

impl State {
    fn clear(&mut self) {
        self.sessions.clear();
        self.bytes = 0;
    }

    fn put(&mut self, session: &str, kind: &str, id: &str, value: Option<&[u8]>) {
        let entries = self.sessions.entry(session.to_owned()).or_default();
        self.bytes += entry_size(kind, id, value);
        if let Some(old) = entries.insert((kind.to_owned(), id.to_owned()), value.map(<[u8]>::to_vec)) {
            self.bytes -= entry_size(kind, id, old.as_deref());
        }
    }
}

/// The cache of one SQLite store (see the module documentation).
pub struct ReadCache {
    wal_index: WalIndex,
    state: Mutex<State>,
}

/// What one operation of the worker did, for [`ReadCache::after_operation`].
pub enum Seen<'a> {
    /// Nothing to remember (creds, listings, checks).
    Nothing,
    /// Values read for these ids of one type.
    Read { session: &'a str, kind: &'a str, ids: &'a [String], values: &'a [Option<Vec<u8>>] },
    /// Key writes committed (`None` values deleted).
    Wrote { session: &'a str, writes: &'a [KeyWrite] },
    /// Every key of the session removed.
    Cleared { session: &'a str },
}

impl ReadCache {
    /// A cache for the database at `db` (in WAL mode, with its `-shm` present), or `None` where
    /// the WAL index cannot be mapped.
    pub fn open(db: &Path) -> Option<ReadCache> {
        let mut shm = db.as_os_str().to_owned();
        shm.push("-shm");
        let wal_index = WalIndex::open(Path::new(&shm))?;
        wal_index.header()?;
        Some(ReadCache { wal_index, state: Mutex::new(State::default()) })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The WAL-index header now (`None` while a writer is updating it).
    pub fn header(&self) -> Option<WalHeader> {
        self.wal_index.header()
    }

    /// The values of `ids` as a results buffer ([`wire::write_results`](super::wire::write_results)),
    /// written straight from the cache, if every one is cached and the database has not
    /// changed since; otherwise `None` (the caller asks the worker).
    pub fn lookup(&self, session: &str, kind: &str, ids: &[String]) -> Option<Vec<u8>> {
        let state = self.state();
        let known = state.known?;
        if self.wal_index.header()? != known {
            return None;
        }
        let entries = state.sessions.get(session)?;
        let mut key = (kind.to_owned(), String::new());
        let values = ids
            .iter()
            .map(|id| {
                id.clone_into(&mut key.1);
                entries.get(&key).map(Option::as_deref)
            })
            .collect::<Option<Vec<Option<&[u8]>>>>()?;
        Some(super::wire::write_results(&values))
    }

    /// Called by the worker after each successful operation, with `header` read after the
    /// operation and `foreign_commit` whether another connection committed since the previous
    /// one (in that order: see the module documentation).
    pub fn after_operation(&self, header: Option<WalHeader>, foreign_commit: bool, seen: Seen<'_>) {
        let mut state = self.state();
        if foreign_commit || header.is_none() {
            state.clear();
        } else {
            match seen {
                Seen::Nothing => {}
                Seen::Read { session, kind, ids, values } => {
                    for (id, value) in ids.iter().zip(values) {
                        state.put(session, kind, id, value.as_deref());
                    }
                }
                Seen::Wrote { session, writes } => {
                    for write in writes {
                        state.put(session, &write.kind, &write.id, write.value.as_deref());
                    }
                }
                Seen::Cleared { session } => {
                    if let Some(entries) = state.sessions.remove(session) {
                        state.bytes -= entries.iter().map(|((kind, id), value)| entry_size(kind, id, value.as_deref())).sum::<usize>();
                    }
                }
            }
            if state.bytes > MAX_CACHED_BYTES {
                state.clear();
            }
        }
        state.known = header;
    }

    /// Called by the worker when an operation failed: serve nothing until the next success.
    pub fn forget(&self) {
        let mut state = self.state();
        state.clear();
        state.known = None;
    }
}

/// A SQLite store file with its [`ReadCache`]: every operation is the store's own, followed
/// by what the cache must learn from it.
pub struct CachedSqliteStore {
    store: super::sqlite::SqliteStore,
    cache: std::sync::Arc<ReadCache>,
    /// `PRAGMA data_version` after the previous operation.
    data_version: i64,
}

impl CachedSqliteStore {
    /// Opens the database file at `path`, with a read cache where its WAL index can be mapped.
    pub fn open(path: &Path) -> Result<Box<dyn Store>> {
        let mut store = super::sqlite::SqliteStore::open(path)?;
        let Some(cache) = ReadCache::open(path) else {
            tracing::debug!(path = %path.display(), "no read cache: the WAL index cannot be mapped");
            return Ok(Box::new(store));
        };
        let data_version = store.data_version()?;
        Ok(Box::new(CachedSqliteStore { store, cache: std::sync::Arc::new(cache), data_version }))
    }

    fn observe(&mut self, seen: Seen<'_>) {
        // The header first, then data_version: see the module documentation.
        let header = self.cache.header();
        match self.store.data_version() {
            Ok(version) => {
                let foreign_commit = version != self.data_version;
                self.data_version = version;
                self.cache.after_operation(header, foreign_commit, seen);
            }
            Err(_) => self.cache.forget(),
        }
    }

    /// Tells the cache what a finished operation did: `seen` if it succeeded; a failure
    /// empties it.
    fn after<T>(&mut self, result: Result<T>, seen: Seen<'_>) -> Result<T> {
        match &result {
            Ok(_) => self.observe(seen),
            Err(_) => self.cache.forget(),
        }
        result
    }
}

impl Store for CachedSqliteStore {
    fn get_creds(&mut self, session: &str) -> Result<Option<Vec<u8>>> {
        let result = self.store.get_creds(session);
        self.after(result, Seen::Nothing)
    }

    fn set_creds(&mut self, session: &str, creds: &[u8]) -> Result<()> {
        let result = self.store.set_creds(session, creds);
        self.after(result, Seen::Nothing)
    }

    fn get_keys(&mut self, session: &str, kind: &str, ids: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        match self.store.get_keys(session, kind, ids) {
            Ok(values) => {
                self.observe(Seen::Read { session, kind, ids, values: &values });
                Ok(values)
            }
            Err(err) => {
                self.cache.forget();
                Err(err)
            }
        }
    }

    fn apply(&mut self, session: &str, writes: &[KeyWrite]) -> Result<()> {
        let result = self.store.apply(session, writes);
        self.after(result, Seen::Wrote { session, writes })
    }

    fn clear_keys(&mut self, session: &str) -> Result<()> {
        let result = self.store.clear_keys(session);
        self.after(result, Seen::Cleared { session })
    }

    fn delete_session(&mut self, session: &str) -> Result<()> {
        let result = self.store.delete_session(session);
        self.after(result, Seen::Cleared { session })
    }

    fn sessions(&mut self) -> Result<Vec<String>> {
        let result = self.store.sessions();
        self.after(result, Seen::Nothing)
    }

    fn list_keys(&mut self, session: &str) -> Result<Vec<KeyInfo>> {
        let result = self.store.list_keys(session);
        self.after(result, Seen::Nothing)
    }

    fn stats(&mut self, session: &str) -> Result<SessionStats> {
        let result = self.store.stats(session);
        self.after(result, Seen::Nothing)
    }

    fn backup(&mut self, dest: &Path) -> Result<()> {
        let result = self.store.backup(dest);
        self.after(result, Seen::Nothing)
    }

    fn check(&mut self) -> Result<Vec<String>> {
        let result = self.store.check();
        self.after(result, Seen::Nothing)
    }

    fn operation_issued(&mut self, at: std::time::Instant) {
        self.store.operation_issued(at);
    }

    fn read_cache(&self) -> Option<std::sync::Arc<ReadCache>> {
        Some(std::sync::Arc::clone(&self.cache))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(kind: &str, id: &str, value: &[u8]) -> KeyWrite {
        KeyWrite { kind: kind.into(), id: id.into(), value: Some(crate::core::codec::encode(&crate::core::codec::Value::Bytes(value.to_vec()))) }
    }

    #[test]
    fn a_commit_by_another_connection_invalidates_everything_cached() {
        let dir = std::env::temp_dir().join(format!("bra-read-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("auth.db");
        let mut a = CachedSqliteStore::open(&path).unwrap();
        let mut b = CachedSqliteStore::open(&path).unwrap();
        let cache = a.read_cache().expect("a file store keeps a cache");
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();

        a.apply("s", &[write("t", "x", b"1"), write("t", "y", b"1")]).unwrap();
        let own = cache.lookup("s", "t", &ids(&["x", "y"])).expect("own writes are cached");
        assert_eq!(own, crate::core::wire::write_results(&a.get_keys("s", "t", &ids(&["x", "y"])).unwrap()));

        b.apply("s", &[write("t", "y", b"2")]).unwrap();
        assert_eq!(cache.lookup("s", "t", &ids(&["x"])), None, "the header moved");
        let fresh = crate::core::wire::write_results(&a.get_keys("s", "t", &ids(&["x"])).unwrap());
        assert_eq!(cache.lookup("s", "t", &ids(&["x"])), None, "a foreign commit drops everything");
        assert_eq!(cache.lookup("s", "t", &ids(&["y"])), None);
        a.get_keys("s", "t", &ids(&["x"])).unwrap();
        assert_eq!(cache.lookup("s", "t", &ids(&["x"])), Some(fresh), "cached again once nothing changed");
        drop((a, b));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rewriting_a_key_does_not_grow_the_accounted_size() {
        let mut state = State::default();
        for _ in 0..100 {
            state.put("s", "session", "a", Some(&[0; 1000]));
        }
        assert_eq!(state.bytes, 1000 + "session".len() + 1);
        state.put("s", "session", "a", None);
        assert_eq!(state.bytes, "session".len() + 1);
    }
}
