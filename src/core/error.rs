//! The one error type of the core, with the stable codes that JavaScript sees as `err.code`.

use thiserror::Error;

/// Everything a store operation can fail with. Each variant maps to one stable code
/// ([`StoreError::code`]); the message is for people and may change between versions.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum StoreError {
    /// The caller passed something that cannot be stored or is not a valid argument.
    #[error("{0}")]
    InvalidArg(String),
    /// The store was closed before this operation was issued.
    #[error("the store is closed")]
    Closed,
    /// Stored data cannot be read back: a damaged file, or a file that is not ours.
    #[error("the store is corrupt: {0}")]
    Corrupt(String),
    /// The database was written by a newer version of this library; it is left untouched.
    #[error("the database has schema version {found}, but this version of baileys-rust-auth supports up to {supported}; upgrade baileys-rust-auth")]
    Version { found: i64, supported: i64 },
    /// The store was opened with `create: false` and there is no database at its path.
    #[error("{0}")]
    NotFound(String),
    /// The database has an older schema, and the store was opened with `create: false`, which
    /// never upgrades (an application of the older version may still use the file).
    #[error("the database has schema version {found}, written by an older version of baileys-rust-auth (this one writes {current}); a store opened with create: false is not upgraded, so that applications still on the older version can keep using it: open it with openStore(url) once to upgrade it")]
    OlderSchema { found: i64, current: i64 },
    /// The operating system or database engine failed: disk full, permissions, locks.
    #[error("store I/O failed: {0}")]
    Io(String),
    /// A networked store (Redis) cannot be reached now; the same call may succeed later.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Another owner holds a live lease on the session (`docs/ownership.md`): it is refused, and
    /// nothing was written. `owner` says who, and until when.
    #[error("session {session:?} is owned by {} (pid {}) until {}; pass takeover: true to take it over (that owner is then fenced)", owner.host, owner.pid, iso_time(owner.expires_at_ms))]
    SessionLocked { session: String, owner: LeaseOwner },
    /// The handle's lease is no longer the session's (taken over, released, or lost): nothing
    /// of the call was written, and the handle must stop.
    #[error("{0}")]
    SessionFenced(String),
    /// An encrypted store opened without its key, with another key, or a plain store opened
    /// with one (`docs/encryption.md`): refused before anything is read or written.
    #[error("{0}")]
    Key(String),
    /// The operation exists, but this backend cannot do it (e.g. `backup` of a Redis store);
    /// the message says what to do instead.
    #[error("{0}")]
    Unsupported(String),
}

impl StoreError {
    /// The stable code, exported to JavaScript as `err.code`.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::InvalidArg(_) => "ERR_INVALID_ARG",
            StoreError::Closed => "ERR_STORE_CLOSED",
            StoreError::Corrupt(_) => "ERR_STORE_CORRUPT",
            StoreError::Version { .. } | StoreError::OlderSchema { .. } => "ERR_STORE_VERSION",
            StoreError::NotFound(_) => "ERR_STORE_NOT_FOUND",
            StoreError::Io(_) => "ERR_STORE_IO",
            StoreError::Unavailable(_) => "ERR_STORE_UNAVAILABLE",
            StoreError::Unsupported(_) => "ERR_UNSUPPORTED",
            StoreError::Key(_) => "ERR_STORE_KEY",
            StoreError::SessionLocked { .. } => "ERR_SESSION_LOCKED",
            StoreError::SessionFenced(_) => "ERR_SESSION_FENCED",
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        StoreError::InvalidArg(message.into())
    }

    pub fn corrupt(message: impl Into<String>) -> Self {
        StoreError::Corrupt(message.into())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        // A stored name that is not UTF-8, or a column holding another type than this package
        // writes there (a text id stored as a blob, say, by another tool): damage, not I/O.
        match err {
            rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::Utf8Error(..) => {
                return StoreError::Corrupt(format!("a stored name is not valid UTF-8 ({err})"));
            }
            rusqlite::Error::InvalidColumnType(..) => {
                return StoreError::Corrupt(format!("a stored row does not hold what this package writes ({err})"));
            }
            _ => {}
        }
        match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => StoreError::Corrupt(err.to_string()),
            _ => StoreError::Io(err.to_string()),
        }
    }
}

impl From<std::io::Error> for StoreError {
    fn from(err: std::io::Error) -> Self {
        StoreError::Io(err.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Who holds (or last held) a session's lease, as `ERR_SESSION_LOCKED` and `stats` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseOwner {
    pub host: String,
    pub pid: u32,
    /// When the holder took the lease and when it lapses without renewal, in ms since the
    /// Unix epoch (Redis: by the server's clock; SQLite: by the host's wall clock).
    pub acquired_at_ms: i64,
    pub expires_at_ms: i64,
}

/// A time in ms since the Unix epoch as ISO 8601 UTC (`2026-12-02T06:00:00.000Z`), for messages.
pub(crate) fn iso_time(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_iso_8601() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_time(1_796_191_200_123), "2026-12-02T06:00:00.123Z");
        assert_eq!(iso_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(StoreError::invalid("x").code(), "ERR_INVALID_ARG");
        assert_eq!(StoreError::Closed.code(), "ERR_STORE_CLOSED");
        assert_eq!(StoreError::corrupt("x").code(), "ERR_STORE_CORRUPT");
        assert_eq!(StoreError::Version { found: 9, supported: 1 }.code(), "ERR_STORE_VERSION");
        assert_eq!(StoreError::OlderSchema { found: 1, current: 2 }.code(), "ERR_STORE_VERSION");
        assert_eq!(StoreError::Io("x".into()).code(), "ERR_STORE_IO");
        assert_eq!(StoreError::NotFound("x".into()).code(), "ERR_STORE_NOT_FOUND");
        assert_eq!(StoreError::Unavailable("x".into()).code(), "ERR_STORE_UNAVAILABLE");
        assert_eq!(StoreError::Unsupported("x".into()).code(), "ERR_UNSUPPORTED");
        assert_eq!(StoreError::SessionFenced("x".into()).code(), "ERR_SESSION_FENCED");
        let owner = LeaseOwner { host: "h".into(), pid: 1, acquired_at_ms: 0, expires_at_ms: 0 };
        assert_eq!(StoreError::SessionLocked { session: "s".into(), owner }.code(), "ERR_SESSION_LOCKED");
    }

    #[test]
    fn sqlite_corruption_maps_to_corrupt() {
        let err = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB), None);
        assert_eq!(StoreError::from(err).code(), "ERR_STORE_CORRUPT");
    }
}
