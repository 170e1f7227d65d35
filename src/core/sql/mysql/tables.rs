//! The namespace of one store: its tables' names (quoted), the statements on them, and the
//! limits a name and a statement must keep to.

use sqlx::mysql::MySqlRow;
use sqlx::Row;

use crate::core::error::{Result, StoreError};
use crate::core::lease::{LeaseInfo, LeaseOwner};
use crate::core::sql::map_error;

/// The longest session, key type and key id: the columns' sizes (see
/// `migrations/001_initial.sql`).
pub use crate::core::sql::{MAX_ID_BYTES, MAX_SESSION_BYTES, MAX_TYPE_BYTES};
/// The longest lease holder, process token and host name.
pub const MAX_LEASE_FIELD_BYTES: usize = 255;

/// A statement on the store's tables (their names are in its text, so it is built at run time;
/// every value is bound).
pub fn q(sql: String) -> sqlx::query::Query<'static, sqlx::MySql, sqlx::mysql::MySqlArguments> {
    sqlx::query(sqlx::AssertSqlSafe(sql))
}

/// Rows per page of a listing.
pub const PAGE: i64 = 5000;

/// What every operation of a store needs besides a connection.
pub(crate) struct Ctx {
    pub t: Tables,
    /// The URL without its password, for messages.
    pub shown: String,
    /// The server's `max_allowed_packet`, read at open.
    pub max_packet: usize,
    /// Every connection's `innodb_lock_wait_timeout`, in seconds (see `connect::pool`).
    pub lock_wait_secs: u64,
}

impl Ctx {
    pub fn err(&self, e: sqlx::Error) -> StoreError {
        map_error("MySQL", &self.shown, e)
    }

    /// The most bytes of values and names one multi-row statement carries: half the server's
    /// packet limit, leaving room for the statement's text and the protocol's framing.
    pub fn statement_budget(&self) -> usize {
        self.max_packet / 2
    }

    /// Refuses a single value that no statement could carry.
    pub fn check_value(&self, what: &str, bytes: usize) -> Result<()> {
        if bytes.saturating_add(4096) > self.max_packet {
            return Err(StoreError::invalid(format!(
                "{what} of {bytes} bytes is larger than this MySQL server accepts (max_allowed_packet = {}); raise max_allowed_packet on the server",
                self.max_packet
            )));
        }
        Ok(())
    }
}

/// The quoted table names for a prefix (checked by `SqlOptions::resolve`: letters, digits, `_`).
pub(crate) struct Tables {
    pub prefix: String,
    pub sessions: String,
    pub keys: String,
    pub leases: String,
    /// The store's own records ([`Store::meta`](crate::core::store::Store::meta)).
    pub records: String,
    pub version: String,
}

impl Tables {
    pub fn new(prefix: &str) -> Tables {
        let quoted = |name: &str| format!("`{prefix}{name}`");
        Tables {
            prefix: prefix.to_owned(),
            sessions: quoted("sessions"),
            keys: quoted("keys"),
            leases: quoted("leases"),
            records: quoted("store_records"),
            version: quoted("schema_version"),
        }
    }
}

/// Refuses a name longer than its column.
pub fn check_name(what: &str, name: &str, max: usize) -> Result<()> {
    crate::core::sql::check_name("MySQL", what, name, max)
}

pub fn check_session(session: &str) -> Result<()> {
    check_name("session id", session, MAX_SESSION_BYTES)
}

/// A name read back: bytes that are not UTF-8 were not written by this package.
pub fn text(bytes: Vec<u8>, what: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| StoreError::corrupt(format!("a stored {what} is not valid UTF-8 ({e})")))
}

/// `n` placeholder groups `group`, comma-separated: `(?, ?), (?, ?)`.
pub fn groups(group: &str, n: usize) -> String {
    let mut out = String::with_capacity(n * (group.len() + 2));
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(group);
    }
    out
}

/// The number of entries a list of `n` is sent as: the next power of two (at most `max`), the
/// rest repeating the last entry. Lists of ids (`IN (…)`) take any repeat harmlessly, and the
/// few list sizes keep the driver's prepared statements cached instead of one per size.
pub fn padded(n: usize, max: usize) -> usize {
    n.next_power_of_two().min(max).max(n)
}

/// A lease row, with the server's time when it was read (the last column of [`LEASE_COLUMNS`]).
#[derive(Debug, Clone)]
pub(crate) struct StoredLease {
    pub holder: String,
    pub process: String,
    /// 0: the placeholder of a session never leased.
    pub epoch: u64,
    pub owner: LeaseOwner,
    pub now: i64,
}

/// The columns [`StoredLease::read`] reads, from index `at`; the last is the server's clock in
/// ms since the Unix epoch (the driver sets the connection's time zone to UTC, so
/// `UNIX_TIMESTAMP` reads `NOW` without a DST ambiguity): every lease decision uses it.
pub const LEASE_COLUMNS: &str = "holder, process, epoch, host, pid, acquired_at, expires_at, CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)";

impl StoredLease {
    /// The placeholder a write inserts for a session never leased.
    #[cfg(test)]
    pub fn placeholder(now: i64) -> StoredLease {
        StoredLease {
            holder: String::new(),
            process: String::new(),
            epoch: 0,
            owner: LeaseOwner { host: String::new(), pid: 0, acquired_at_ms: 0, expires_at_ms: 0 },
            now,
        }
    }

    pub fn read(row: &MySqlRow, at: usize, ctx: &Ctx) -> Result<StoredLease> {
        let get_bytes = |i: usize| row.try_get::<Vec<u8>, _>(at + i).map_err(|e| ctx.err(e));
        let get_int = |i: usize| row.try_get::<i64, _>(at + i).map_err(|e| ctx.err(e));
        let epoch = u64::try_from(get_int(2)?).map_err(|_| StoreError::corrupt("a stored lease epoch is negative"))?;
        let pid = u32::try_from(get_int(4)?).map_err(|_| StoreError::corrupt("a stored lease pid is out of range"))?;
        Ok(StoredLease {
            holder: text(get_bytes(0)?, "lease holder")?,
            process: text(get_bytes(1)?, "lease process")?,
            epoch,
            owner: LeaseOwner { host: text(get_bytes(3)?, "lease host")?, pid, acquired_at_ms: get_int(5)?, expires_at_ms: get_int(6)? },
            now: get_int(7)?,
        })
    }

    /// Live: held (not released) and not expired by the server's clock.
    pub fn live(&self) -> bool {
        !self.holder.is_empty() && self.now < self.owner.expires_at_ms
    }

    /// The lease as `lease::check_write` and `lease::fenced` take it: `None` if never leased.
    pub fn stored(&self) -> Option<(&str, u64, &LeaseOwner)> {
        (self.epoch > 0).then_some((self.holder.as_str(), self.epoch, &self.owner))
    }

    pub fn info(&self) -> LeaseInfo {
        LeaseInfo { holder: self.holder.clone(), epoch: self.epoch, owner: self.owner.clone(), live: self.live() }
    }
}

/// The MySQL error number of a server error, if it is one.
pub(crate) fn mysql_number(err: &sqlx::Error) -> Option<u16> {
    match err {
        sqlx::Error::Database(db) => db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().map(|e| e.number()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_padded_to_few_sizes() {
        assert_eq!(groups("(?, ?)", 2), "(?, ?), (?, ?)");
        assert_eq!([1, 2, 3, 5, 1000, 1024, 1500].map(|n| padded(n, 1024)), [1, 2, 4, 8, 1024, 1024, 1500]);
    }

    #[test]
    fn names_longer_than_their_column_are_refused() {
        assert!(check_session(&"s".repeat(255)).is_ok());
        assert_eq!(check_session(&"s".repeat(256)).unwrap_err().code(), "ERR_INVALID_ARG");
        assert_eq!(check_name("key id", &"é".repeat(513), MAX_ID_BYTES).unwrap_err().code(), "ERR_INVALID_ARG");
    }
}
