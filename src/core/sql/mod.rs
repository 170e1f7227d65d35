//! The SQL server backends: [`postgres`] and [`mysql`], for fleets that keep their auth state in
//! the database they already run (`docs/postgres.md`, `docs/mysql.md`). Both store what SQLite
//! stores, with the same codec (so moving a session between any two backends is a copy): a
//! `sessions` table (creds, last write), a `keys` table keyed by `(session, type, id)` with
//! binary values, and a `leases` table whose row outlives the session, so that epochs never go
//! back. Lease times come from the server's clock, as on Redis: every process of a fleet
//! measures one lease by one clock.
//!
//! This file holds what the two share: the target and options ([`options`]), the runtime and
//! deadline that bound every round trip, and the mapping of driver errors to our codes.
//!
//! Each store owns a Tokio runtime and blocks on one round trip at a time from the thread its
//! [`Executor`](crate::core::executor::Executor) gives it (the [`Store`](crate::core::store::Store)
//! trait is synchronous); unlike the Redis backend's, the runtime has one worker thread of its
//! own, for what sqlx leaves to spawned tasks (see [`Rounds::new`]).

pub mod mysql;
mod nodelay;
pub mod options;
pub mod postgres;

use std::future::Future;
use std::time::{Duration, Instant};

pub use options::{SqlOptions, SqlServer, SqlTarget};

use crate::core::error::{Result, StoreError};
use crate::core::store::Write;

/// The longest session, key type and key id, in UTF-8 bytes, on both servers. MySQL's columns
/// are that wide (its key must fit InnoDB's 3,072 bytes); PostgreSQL's btree entries hold at
/// most 2,704 bytes and the keys' primary key holds all three. Longer names are refused before
/// anything is sent, rather than failing at the server inside the write's transaction; the
/// limits are the same so that a session moves between the two.
pub const MAX_SESSION_BYTES: usize = 255;
pub const MAX_TYPE_BYTES: usize = 255;
pub const MAX_ID_BYTES: usize = 1024;
/// The three limits, as [`Store::name_limits`](crate::core::store::Store::name_limits) tells them.
pub const NAME_LIMITS: crate::core::store::NameLimits =
    crate::core::store::NameLimits { session: MAX_SESSION_BYTES, kind: MAX_TYPE_BYTES, id: MAX_ID_BYTES };

/// Refuses a name longer than `max` bytes (`server` names the store in the message).
pub(crate) fn check_name(server: &str, what: &str, name: &str, max: usize) -> Result<()> {
    if name.len() > max {
        return Err(StoreError::invalid(format!(
            "a {what} is at most {max} bytes (UTF-8) in a {server} store; this one has {}",
            name.len()
        )));
    }
    Ok(())
}

/// Refuses a key whose type or id is too long, naming it by its type and the start of its id.
pub(crate) fn check_key_names(server: &str, kind: &str, id: &str) -> Result<()> {
    let start = |name: &str| {
        let end = name.char_indices().nth(32).map_or(name.len(), |(i, _)| i);
        format!("{:?}{}", &name[..end], if end < name.len() { "…" } else { "" })
    };
    if kind.len() > MAX_TYPE_BYTES {
        return Err(StoreError::invalid(format!(
            "a key type is at most {MAX_TYPE_BYTES} bytes (UTF-8) in a {server} store; type {} has {}",
            start(kind),
            kind.len()
        )));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(StoreError::invalid(format!(
            "a key id is at most {MAX_ID_BYTES} bytes (UTF-8) in a {server} store; the {kind:?} key {} has {}",
            start(id),
            id.len()
        )));
    }
    Ok(())
}

/// A store's runtime and the deadline of the operation under way.
pub(crate) struct Rounds {
    runtime: tokio::runtime::Runtime,
    command_timeout: Duration,
    /// The deadline of the current operation's first round trip, set when it is issued (its
    /// issue time plus the command timeout) and used up by that round trip.
    issued_deadline: Option<Instant>,
    /// The deadline of each write of the group about to be written, in the group's order, set
    /// by [`Store::group_issued`](crate::core::store::Store::group_issued) and used up by
    /// [`Rounds::group_in_time`].
    group_deadlines: Vec<Instant>,
    /// `PostgreSQL` or `MySQL`, and the URL without its password, for messages.
    server: &'static str,
    shown: String,
}

impl Rounds {
    pub(crate) fn new(server: SqlServer, shown: String, command_timeout: Duration) -> Result<Rounds> {
        // One worker of its own, beside the store's thread that blocks on each call: what the
        // driver hands to the runtime after a call returns must run while the store is idle.
        // A call cut off by its deadline drops its connection mid-transaction, and sqlx sends
        // the ROLLBACK (and pings the connection before it goes back to the pool) from a
        // spawned task; on a runtime driven only inside calls, that task would wait for the
        // store's next call, and the dropped transaction would hold its row locks against
        // every other store until then.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bra-sql")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Io(format!("cannot start the SQL runtime: {e}")))?;
        let server = match server {
            SqlServer::Postgres => "PostgreSQL",
            SqlServer::Mysql => "MySQL",
        };
        Ok(Rounds { runtime, command_timeout, issued_deadline: None, group_deadlines: Vec::new(), server, shown })
    }

    pub(crate) fn command_timeout(&self) -> Duration {
        self.command_timeout
    }

    /// Records when the next operation was issued ([`Store::operation_issued`](crate::core::store::Store::operation_issued)).
    pub(crate) fn issued(&mut self, at: Instant) {
        self.issued_deadline = Some(at + self.command_timeout);
    }

    /// Records when each write of the next group was issued ([`Store::group_issued`](crate::core::store::Store::group_issued)).
    pub(crate) fn issued_group(&mut self, at: &[Instant]) {
        self.issued_deadline = None;
        self.group_deadlines = at.iter().map(|&at| at + self.command_timeout).collect();
    }

    /// Which writes of a group are still in time: each has its own deadline, so one that
    /// waited in line past it fails alone, unsent, as it would alone, and does not fail the
    /// fresher writes grouped with it. The writes in time go as one transaction, due when the
    /// oldest of them is. An empty key batch is always in time: alone it succeeds without a
    /// round trip. A group not announced write by write (a caller using the store directly) is
    /// one operation, all of it in time, due when it was issued.
    /// Returns which are (for [`with_late_writes`](Self::with_late_writes)) and those writes.
    pub(crate) fn group_in_time<'a>(&mut self, group: &[Write<'a>]) -> (Vec<bool>, Vec<Write<'a>>) {
        let in_time = self.in_time(group);
        let sent = group.iter().zip(&in_time).filter(|(_, &in_time)| in_time).map(|(write, _)| *write).collect();
        (in_time, sent)
    }

    fn in_time(&mut self, group: &[Write<'_>]) -> Vec<bool> {
        let deadlines = std::mem::take(&mut self.group_deadlines);
        if deadlines.len() != group.len() {
            return vec![true; group.len()];
        }
        let now = Instant::now();
        let empty = |write: &Write<'_>| matches!(write, Write::Keys { writes: [], .. });
        let in_time: Vec<bool> = group.iter().zip(&deadlines).map(|(write, &deadline)| empty(write) || deadline > now).collect();
        // None if no write is to be sent: no deadline is left for the next call.
        self.issued_deadline =
            group.iter().zip(deadlines).filter(|(write, deadline)| !empty(write) && *deadline > now).map(|(_, deadline)| deadline).min();
        in_time
    }

    /// Drops the deadline of an operation that needs no round trip (an empty key batch), so
    /// that it is not left for the next call.
    pub(crate) fn no_round_trip(&mut self) {
        self.issued_deadline = None;
    }

    /// The results of a whole group from those of its writes in time (`sent`, in order) and
    /// the writes [`group_in_time`](Self::group_in_time) found late.
    pub(crate) fn with_late_writes(&self, in_time: &[bool], sent: Vec<Result<()>>) -> Vec<Result<()>> {
        let mut sent = sent.into_iter();
        in_time
            .iter()
            .map(|&in_time| match in_time {
                true => sent.next().unwrap_or_else(|| Err(StoreError::Io("a group write has no result".into()))),
                false => Err(self.waited_too_long()),
            })
            .collect()
    }

    fn waited_too_long(&self) -> StoreError {
        StoreError::Unavailable(format!("{} did not answer within commandTimeoutMs (the call waited in line behind others)", self.server))
    }

    /// When the round trip about to be sent must have finished: the first one of an operation
    /// has until its issue time plus `commandTimeoutMs` (waiting in line counts); every later one
    /// (the next page of a listing) has `commandTimeoutMs` from now.
    fn deadline(&mut self) -> Instant {
        self.issued_deadline.take().unwrap_or_else(|| Instant::now() + self.command_timeout)
    }

    /// Runs one round trip (or one transaction: a few statements that must go together) on the
    /// runtime, failing with `ERR_STORE_UNAVAILABLE` at its deadline. A future cut short by the
    /// deadline is dropped: a sqlx `Transaction` dropped unfinished is rolled back, and a
    /// connection going back to the pool is pinged first (which waits out what it still owed and
    /// flushes that rollback; one that fails the ping is closed), so no later call runs inside a
    /// half-done transaction. The outcome of a COMMIT cut short is unknown: the call fails
    /// `ERR_STORE_UNAVAILABLE`.
    pub(crate) fn run<T>(&mut self, future: impl Future<Output = std::result::Result<T, sqlx::Error>>) -> Result<T> {
        // The future cannot borrow `self`, which `run_mapped` borrows mutably.
        let (server, shown) = (self.server, self.shown.clone());
        self.run_mapped(async move { future.await.map_err(|e| map_error(server, &shown, e)) })
    }

    /// [`run`](Self::run) for a future that maps its own errors (one that also refuses with
    /// lease errors, say).
    pub(crate) fn run_mapped<T>(&mut self, future: impl Future<Output = Result<T>>) -> Result<T> {
        self.run_until(|_| future)
    }

    /// [`run_mapped`](Self::run_mapped) for a future that needs to know its deadline (to
    /// bound the server's lock waits within it, say).
    pub(crate) fn run_until<T, F: Future<Output = Result<T>>>(&mut self, future: impl FnOnce(Instant) -> F) -> Result<T> {
        let deadline = self.deadline();
        let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
            return Err(self.waited_too_long());
        };
        let server = self.server;
        let future = future(deadline);
        self.runtime.block_on(async {
            match tokio::time::timeout(left, future).await {
                Ok(result) => result,
                Err(_) => Err(StoreError::Unavailable(format!("{server} did not answer within commandTimeoutMs"))),
            }
        })
    }

    /// Runs a future with no deadline but its own (opening the pool: `connectTimeoutMs`).
    pub(crate) fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }

    /// A driver error as one of ours; see [`map_error`].
    pub(crate) fn map(&self, err: sqlx::Error) -> StoreError {
        map_error(self.server, &self.shown, err)
    }
}

/// Driver errors as our codes. Trouble reaching the server, or a server that says "try again"
/// (shutting down, starting, too many connections, a deadlock or lock timeout that rolled the
/// transaction back), is `ERR_STORE_UNAVAILABLE`: the same call may succeed later. A stored row
/// that does not hold what this package writes is `ERR_STORE_CORRUPT`. Anything else the server
/// refuses (permissions, a full disk) is `ERR_STORE_IO`. Messages name the server by its URL
/// without password, never a value.
pub(crate) fn map_error(server: &str, shown: &str, err: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match err {
        E::Io(_) | E::Tls(_) | E::Protocol(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
            StoreError::Unavailable(format!("{server} at {shown}: {err}"))
        }
        E::Configuration(_) => StoreError::invalid(format!("invalid {server} URL {shown}: {err}")),
        E::ColumnDecode { .. } | E::Decode(_) | E::ColumnNotFound(_) | E::TypeNotFound { .. } | E::ColumnIndexOutOfBounds { .. } => {
            StoreError::corrupt(format!("a stored row does not hold what this package writes ({err})"))
        }
        E::Database(db) => {
            // PostgreSQL says what happened in its SQLSTATE; MySQL in its error number (its
            // SQLSTATE is a coarse class: HY000 covers most errors, transient or not).
            let code = match db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                Some(mysql) => mysql.number().to_string(),
                None => db.code().map(|c| c.into_owned()).unwrap_or_default(),
            };
            if transient_sql_state(server, &code) {
                StoreError::Unavailable(format!("{server} at {shown}: {db}"))
            } else {
                StoreError::Io(format!("{server} at {shown}: {db} (SQLSTATE or error {code})"))
            }
        }
        other => StoreError::Io(format!("{server} at {shown}: {other}")),
    }
}

/// Whether a server error means "not now" rather than "no": PostgreSQL SQLSTATEs (class 08
/// connection exceptions, 57P0x shutdown and startup, 53300 too many connections, 40001/40P01
/// serialization failure and deadlock, 55P03 lock not available, 57014 statement cancelled by
/// `statement_timeout`) and MySQL error numbers (1040
/// too many connections, 1053 server shutdown, 1205 lock wait timeout, 1213 deadlock, 1317 query
/// interrupted, 1927 connection killed (MariaDB), 4031 disconnected by the server for
/// inactivity (MySQL 8), 2002/2003/2006/2013 connection lost).
fn transient_sql_state(server: &str, code: &str) -> bool {
    if server == "PostgreSQL" {
        code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01" | "55P03" | "57014")
    } else {
        matches!(code, "1040" | "1053" | "1205" | "1213" | "1317" | "1927" | "4031" | "2002" | "2003" | "2006" | "2013")
    }
}

/// rustls needs one process-wide crypto provider for TLS; installing it twice is harmless.
pub(crate) fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_error_numbers_that_mean_not_now_are_unavailable() {
        for number in ["1040", "1053", "1205", "1213", "1317", "1927", "4031", "2006", "2013"] {
            assert!(transient_sql_state("MySQL", number), "{number}");
        }
        // No such table, access denied, duplicate key, packet too large, disk full: a "no".
        for number in ["1146", "1045", "1062", "1153", "1021", "HY000", "23000", ""] {
            assert!(!transient_sql_state("MySQL", number), "{number}");
        }
        assert!(transient_sql_state("PostgreSQL", "08006"));
        assert!(!transient_sql_state("PostgreSQL", "1205"));
    }
}
