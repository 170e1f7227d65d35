//! The PostgreSQL backend (`docs/postgres.md`): every process of a fleet shares one schema.
//!
//! Layout (`migrations/*.sql`): `sessions` (creds, last write), `keys` keyed by
//! `(session, type, id)`, `leases` (one row per session ever leased, kept by `delete_session`,
//! so that epochs never go back), `store_records` (the store's own records, [`Store::meta`]:
//! no session query reads it), `schema_version`. Names are `bytea` (their UTF-8 bytes, which
//! sort in the contract's byte order and may hold NUL), values `bytea` (the same codec blobs as
//! SQLite and Redis, so moving a session between backends is a copy), times `bigint` ms.
//!
//! Round trips: every write (`keys.set`, `saveCreds`, `clear_keys`, `delete_session`) is ONE
//! statement, `SELECT … FROM schema.fn(…)`, so one implicit transaction and one round trip: the
//! PL/pgSQL function locks the session's lease row, checks the fence, writes (a key batch as
//! one multi-row delete and one multi-row upsert over arrays, `unnest`), and returns a status
//! rather than raising for a refused write (`lease.rs` turns it into our errors). Lease grants
//! and renewals of any number of sessions are one statement too. A group of writes
//! ([`Store::write_group`]) is one transaction: a savepoint per write, one `COMMIT`.
//!
//! Durability: every connection runs `synchronous_commit = on`, whatever the server's default,
//! so an `Ok` means the commit's WAL is flushed (and, with synchronous replicas configured, on
//! them). A connection a dead client left in a transaction is ended by the server
//! (`idle_in_transaction_session_timeout`).
//!
//! Like the Redis backend, the store owns a single-threaded Tokio runtime
//! ([`Rounds`](super::Rounds)) and blocks on one round trip (or one transaction) at a time, each
//! bounded by `commandTimeoutMs` from when its operation was issued. The pool reconnects by
//! itself: a server that comes back serves the same store again.

mod lease;
mod schema;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::query::QueryAs;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Postgres};

pub use schema::SCHEMA_VERSION;

use super::{install_tls_provider, map_error, nodelay, Rounds, SqlOptions, SqlServer, SqlTarget, MAX_SESSION_BYTES};
use crate::core::error::{Result, StoreError};
use crate::core::lease::{self as leases, Claim, Fence, LeaseInfo, LeaseRequest};
use crate::core::store::{now_millis, KeyInfo, KeyWrite, KindStats, SessionStats, Store, Write};
use lease::{IndexedLeaseRow, LeaseRow};
use schema::Queries;

/// The longest record name ([`Store::swap_meta`]), in UTF-8 bytes: a session id's limit.
const MAX_RECORD_NAME_BYTES: usize = MAX_SESSION_BYTES;

/// `application_name` of the store's connections, unless the URL gives one: what
/// `pg_stat_activity` shows for them.
const APPLICATION_NAME: &str = "baileys-rust-auth";

/// Run on every new connection, before its first use. `synchronous_commit = on`: a commit is
/// acknowledged once its WAL is on disk, whatever the server's or role's default (it may be
/// off, which loses the last commits in a crash). `idle_in_transaction_session_timeout`: a
/// transaction that a client left open (it hung, or its network went) is ended by the server,
/// and its row locks with it. `read committed`: the write functions rely on each statement
/// seeing what the transaction it waited for committed (a stricter default isolation would
/// make them fail with serialization errors instead).
const SESSION_SETTINGS: &str = "SET synchronous_commit = on; SET idle_in_transaction_session_timeout = 60000; \
                                SET default_transaction_isolation = 'read committed'";

/// The server-side bounds of every pooled connection, from `commandTimeoutMs`: a lock wait ends
/// with the server's clean error (55P03, `ERR_STORE_UNAVAILABLE`) at half of it, with the
/// connection intact, before the client's deadline has to drop the call; and a statement the
/// client stopped waiting for is cancelled (57014) rather than left running on the server,
/// where it would keep its connection, and the row locks of its transaction, from everyone
/// else. (Without them one row that another client holds, a forgotten `BEGIN … FOR UPDATE`
/// in psql say, ties up a connection per write to its session until the pool is gone.)
fn server_timeouts(command_timeout: Duration) -> String {
    let millis = command_timeout.as_millis().max(2);
    format!("SET lock_timeout = {}; SET statement_timeout = {millis}", millis / 2)
}

/// The lock wait a statement of a group may take: half of what is left before the group's
/// deadline (at least 1 ms: 0 would mean no limit), at most the connection's own.
fn group_lock_timeout(deadline: Instant, command_timeout: Duration) -> u128 {
    let left = deadline.saturating_duration_since(Instant::now());
    (left / 2).min(command_timeout / 2).as_millis().max(1)
}

/// A pooled connection idle for longer is pinged before use, so that one the server dropped
/// meanwhile (it restarted, say) is replaced rather than failing the call. One in steady use is
/// not: a ping per call would double the round trips.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Pooled connections idle for longer are closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Rows per page of the listings (`sessions`, `leases`, `list_keys`): each page is one round
/// trip with a deadline of its own.
const PAGE: i64 = 5000;

pub struct PostgresStore {
    pool: PgPool,
    queries: Queries,
    /// The URL without password, for messages.
    shown: Arc<str>,
    /// See [`Store::identity`].
    identity: String,
    /// Last: the runtime outlives the pool, whose connections it drives.
    rounds: Rounds,
}

/// A driver error as one of ours, for futures that cannot borrow the store's [`Rounds`].
fn pg_error(shown: &str, err: sqlx::Error) -> StoreError {
    map_error("PostgreSQL", shown, err)
}

/// The driver's connect options for the target: `postgres://` and `postgresql://` URLs with
/// user, password, host, port, database, `sslmode`, a unix socket as `host=/dir` (or a
/// percent-encoded host `%2Fdir`), read by sqlx; our `application_name` unless the URL (or
/// `PGAPPNAME`) gives one.
fn connect_options(target: &SqlTarget) -> Result<PgConnectOptions> {
    check_parameters(target)?;
    let options = PgConnectOptions::from_str(&target.driver_url)
        .map_err(|e| StoreError::invalid(format!("invalid PostgreSQL URL {}: {e}", target.shown())))?;
    Ok(if options.get_application_name().is_none() { options.application_name(APPLICATION_NAME) } else { options })
}

/// The URL query parameters the driver reads (and our `schema`, taken out before). Anything
/// else is refused: the driver would ignore a misspelt `ssl_mode` (with a log line no one
/// reads) and connect with the default `prefer`, in clear if the server offers no TLS.
const KNOWN_PARAMETERS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

fn check_parameters(target: &SqlTarget) -> Result<()> {
    let known = |key: &str| KNOWN_PARAMETERS.contains(&key) || (key.starts_with("options[") && key.ends_with(']'));
    target.check_parameters(known, &format!("schema, {} and options[name]", KNOWN_PARAMETERS.join(", ")))
}

/// The server's TCP host and port, or `None` when the connections go over a unix socket.
fn tcp_endpoint(connect: &PgConnectOptions) -> Option<(String, u16)> {
    let unix = connect.get_socket().is_some() || connect.get_host().starts_with('/');
    (!unix).then(|| (connect.get_host().to_owned(), connect.get_port()))
}

fn pool_options(options: &SqlOptions, endpoint: Option<(String, u16)>) -> PgPoolOptions {
    let timeouts = server_timeouts(options.command_timeout);
    PgPoolOptions::new()
        .max_connections(options.pool_size)
        .min_connections(0)
        .acquire_timeout(options.connect_timeout)
        .idle_timeout(Some(IDLE_TIMEOUT))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .after_connect(move |conn, _meta| {
            let endpoint = endpoint.clone();
            let settings = format!("{SESSION_SETTINGS}; {timeouts}");
            Box::pin(async move {
                if let Some((host, port)) = endpoint {
                    nodelay::set_on_connections_to(&host, port).await;
                }
                sqlx::raw_sql(AssertSqlSafe(settings)).execute(conn).await.map(drop)
            })
        })
}

/// A fence as the write functions take it: holder and epoch, both NULL without a fence. A
/// fence that names no stored lease is sent as one that matches none (epoch -1, which no
/// lease has): an epoch beyond `i64`, or a holder with NUL, which `text` cannot carry (no
/// holder this package hands out has one), so that such a fence is refused as fenced, as on
/// the other backends, rather than failing the statement.
fn fence_args(fence: Option<&Fence>) -> (Option<&str>, Option<i64>) {
    match fence {
        Some(fence) if fence.holder.contains('\0') => (Some(""), Some(-1)),
        Some(fence) => (Some(fence.holder.as_str()), Some(i64::try_from(fence.epoch).unwrap_or(-1))),
        None => (None, None),
    }
}

/// A key batch as the arrays of `apply_keys`: deduplicated first (writes apply in order, so
/// the last write of a (type, id) wins), then split into deletes and sets.
#[derive(Debug, Default, PartialEq)]
struct KeyArrays<'a> {
    del_types: Vec<&'a [u8]>,
    del_ids: Vec<&'a [u8]>,
    set_types: Vec<&'a [u8]>,
    set_ids: Vec<&'a [u8]>,
    set_values: Vec<&'a [u8]>,
}

fn key_arrays(writes: &[KeyWrite]) -> KeyArrays<'_> {
    let mut last: HashMap<(&str, &str), usize> = HashMap::with_capacity(writes.len());
    for (i, write) in writes.iter().enumerate() {
        last.insert((write.kind.as_str(), write.id.as_str()), i);
    }
    let mut kept: Vec<usize> = last.into_values().collect();
    kept.sort_unstable();
    let mut arrays = KeyArrays::default();
    for write in kept.into_iter().map(|i| &writes[i]) {
        match &write.value {
            Some(value) => {
                arrays.set_types.push(write.kind.as_bytes());
                arrays.set_ids.push(write.id.as_bytes());
                arrays.set_values.push(value);
            }
            None => {
                arrays.del_types.push(write.kind.as_bytes());
                arrays.del_ids.push(write.id.as_bytes());
            }
        }
    }
    arrays
}

fn check_name(what: &str, name: &str, max: usize) -> Result<()> {
    super::check_name("PostgreSQL", what, name, max)
}

/// Refuses a write whose names do not fit ([`MAX_SESSION_BYTES`](super::MAX_SESSION_BYTES) and the others).
fn check_names(write: &Write<'_>) -> Result<()> {
    let (Write::Creds { session, .. } | Write::Keys { session, .. }) = *write;
    check_name("session id", session, MAX_SESSION_BYTES)?;
    if let Write::Keys { writes, .. } = *write {
        for key in writes {
            super::check_key_names("PostgreSQL", &key.kind, &key.id)?;
        }
    }
    Ok(())
}

/// The one statement of a write (`None` for an empty key batch, which writes nothing).
fn write_query<'a>(queries: &Queries, write: &Write<'a>) -> Result<Option<QueryAs<'a, Postgres, LeaseRow, PgArguments>>> {
    if let Write::Keys { writes: [], .. } = write {
        return Ok(None);
    }
    check_names(write)?;
    let now = now_millis();
    Ok(match *write {
        Write::Creds { session, creds, fence } => {
            let (holder, epoch) = fence_args(fence);
            Some(
                sqlx::query_as(AssertSqlSafe(queries.set_creds.clone()))
                    .bind(session.as_bytes())
                    .bind(holder)
                    .bind(epoch)
                    .bind(now)
                    .bind(creds),
            )
        }
        Write::Keys { session, writes, fence } => {
            let (holder, epoch) = fence_args(fence);
            let arrays = key_arrays(writes);
            Some(
                sqlx::query_as(AssertSqlSafe(queries.apply_keys.clone()))
                    .bind(session.as_bytes())
                    .bind(holder)
                    .bind(epoch)
                    .bind(now)
                    .bind(arrays.del_types)
                    .bind(arrays.del_ids)
                    .bind(arrays.set_types)
                    .bind(arrays.set_ids)
                    .bind(arrays.set_values),
            )
        }
    })
}

/// A name read back: bytes that are not UTF-8 were not written by this package, so they are
/// damage (`ERR_STORE_CORRUPT`), never replaced.
fn stored_text(bytes: Vec<u8>, what: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| StoreError::corrupt(format!("a stored {what} is not valid UTF-8 ({e})")))
}

fn stored_count(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| StoreError::corrupt(format!("PostgreSQL reported a negative {what}")))
}

impl PostgresStore {
    /// Connects (failing `ERR_STORE_UNAVAILABLE` within `connectTimeoutMs` if the server cannot
    /// be reached), migrates the schema (unless `create` is false, see [`schema::migrate`]),
    /// and reads the store's identity.
    pub fn open(target: &SqlTarget, options: SqlOptions, create: bool) -> Result<PostgresStore> {
        let schema = options.resolve(target)?;
        install_tls_provider();
        let shown: Arc<str> = target.shown().into();
        let mut rounds = Rounds::new(SqlServer::Postgres, shown.to_string(), options.command_timeout)?;
        let connect = connect_options(target)?;
        let map = |e: sqlx::Error| pg_error(&shown, e);

        // The first connection on its own (not through the pool), so that a server that cannot
        // be reached says why (refused, unknown host, authentication) rather than "timed out".
        let connect_timeout = options.connect_timeout;
        let mut first = rounds
            .block_on(async { tokio::time::timeout(connect_timeout, PgConnection::connect_with(&connect)).await })
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "PostgreSQL at {shown}: no connection within connectTimeoutMs ({} ms)",
                    connect_timeout.as_millis()
                ))
            })?
            .map_err(map)?;
        let endpoint = tcp_endpoint(&connect);
        let setup = rounds.run_mapped(async {
            if let Some((host, port)) = &endpoint {
                nodelay::set_on_connections_to(host, *port).await;
            }
            sqlx::raw_sql(SESSION_SETTINGS).execute(&mut first).await.map_err(map)?;
            schema::migrate(&mut first, &schema, create, &map).await?;
            Ok::<_, StoreError>(schema::server_identity(&mut first, &schema).await)
        });
        rounds.block_on(async {
            let _ = tokio::time::timeout(Duration::from_secs(1), first.close()).await;
        });
        let identity = setup?.unwrap_or_else(|| format!("unverified:postgres:{shown}:{schema}"));
        // Lazy: connections open on first use, each running SESSION_SETTINGS (`after_connect`).
        // Inside the runtime: the pool spawns its maintenance task on it.
        let pool = rounds.block_on(async { pool_options(&options, endpoint).connect_lazy_with(connect) });
        Ok(PostgresStore { pool, queries: Queries::new(&schema), shown, identity, rounds })
    }

    /// Runs one write's statement: its lease row, as the function returned it.
    fn write_one(&mut self, session: &str, fence: Option<&Fence>, query: QueryAs<'_, Postgres, LeaseRow, PgArguments>) -> Result<()> {
        let pool = &self.pool;
        let row = self.rounds.run(query.fetch_one(pool))?;
        lease::write_outcome(session, fence, row)
    }

    /// `clear_keys` (`whole` false) and `delete_session` (`whole` true): one statement.
    fn clear(&mut self, session: &str, fence: Option<&Fence>, whole: bool) -> Result<()> {
        check_name("session id", session, MAX_SESSION_BYTES)?;
        let (holder, epoch) = fence_args(fence);
        let query = sqlx::query_as(AssertSqlSafe(self.queries.clear_session.clone()))
            .bind(session.as_bytes())
            .bind(holder)
            .bind(epoch)
            .bind(now_millis())
            .bind(whole);
        self.write_one(session, fence, query)
    }

    /// The group of [`Store::write_group`] in one transaction: `BEGIN`, per write a savepoint
    /// and its statement (a statement that fails is rolled back to its savepoint: the write gets
    /// its own error and the others go on), then one `COMMIT`: 2N + 2 round trips. Returns each
    /// write's result, or the one error that fails them all (the transaction could not begin
    /// or commit, or the connection failed in between: then nothing of it committed, or, for a
    /// `COMMIT` whose answer was lost, nobody knows, which is `ERR_STORE_UNAVAILABLE`). A
    /// transaction cut short (its deadline passed) is dropped unfinished: sqlx then rolls it
    /// back before the connection is used again, or closes the connection.
    fn write_group_tx(&mut self, group: &[Write<'_>]) -> Result<Vec<Result<()>>> {
        let queries: Vec<_> = group.iter().map(|write| write_query(&self.queries, write)).collect();
        let (pool, shown) = (&self.pool, &*self.shown);
        let map = |e: sqlx::Error| pg_error(shown, e);
        let command_timeout = self.rounds.command_timeout();
        self.rounds.run_until(|deadline| async move {
            let mut tx = pool.begin().await.map_err(map)?;
            let mut results = Vec::with_capacity(group.len());
            // Whether the previous write's savepoint is still to be released: it is released in
            // the same round trip as the next one is set (and by the COMMIT after the last).
            let mut unreleased = false;
            for (write, query) in group.iter().zip(queries) {
                let query = match query {
                    Ok(Some(query)) => query,
                    // Nothing to write (an empty batch), or refused before it was sent.
                    Ok(None) => {
                        results.push(Ok(()));
                        continue;
                    }
                    Err(err) => {
                        results.push(Err(err));
                        continue;
                    }
                };
                let (Write::Creds { session, fence, .. } | Write::Keys { session, fence, .. }) = *write;
                // A write stalled on a lock fails alone (55P03, rolled back to its savepoint)
                // and leaves the rest of the deadline to the writes after it.
                let release = if unreleased { "RELEASE SAVEPOINT group_write; " } else { "" };
                let savepoint =
                    format!("{release}SAVEPOINT group_write; SET LOCAL lock_timeout = {}", group_lock_timeout(deadline, command_timeout));
                sqlx::raw_sql(AssertSqlSafe(savepoint)).execute(&mut *tx).await.map_err(map)?;
                match query.fetch_one(&mut *tx).await {
                    Ok(row) => {
                        unreleased = true;
                        results.push(lease::write_outcome(session, fence, row));
                    }
                    Err(err) => {
                        sqlx::raw_sql("ROLLBACK TO SAVEPOINT group_write; RELEASE SAVEPOINT group_write")
                            .execute(&mut *tx)
                            .await
                            .map_err(map)?;
                        unreleased = false;
                        results.push(Err(map(err)));
                    }
                }
            }
            tx.commit().await.map_err(map)?;
            Ok::<_, StoreError>(results)
        })
    }

    /// One page of a listing: rows after `after`, as the query returns them.
    fn page<O>(&mut self, query: QueryAs<'_, Postgres, O, PgArguments>) -> Result<Vec<O>>
    where
        O: Send + Unpin + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        let pool = &self.pool;
        self.rounds.run(query.fetch_all(pool))
    }
}

impl Drop for PostgresStore {
    /// Closes the pool's connections (politely, so that the server frees them at once), within
    /// a second: a server that is gone is not waited for.
    fn drop(&mut self) {
        let pool = self.pool.clone();
        self.rounds.block_on(async move {
            let _ = tokio::time::timeout(Duration::from_secs(1), pool.close()).await;
        });
    }
}

impl Store for PostgresStore {
    fn operation_issued(&mut self, at: Instant) {
        self.rounds.issued(at);
    }

    fn group_issued(&mut self, at: &[Instant]) {
        self.rounds.issued_group(at);
    }

    fn get_creds(&mut self, session: &str) -> Result<Option<Vec<u8>>> {
        let pool = &self.pool;
        let query = sqlx::query_scalar::<_, Option<Vec<u8>>>(AssertSqlSafe(self.queries.get_creds.clone())).bind(session.as_bytes());
        Ok(self.rounds.run(query.fetch_optional(pool))?.flatten())
    }

    fn set_creds(&mut self, session: &str, creds: &[u8], fence: Option<&Fence>) -> Result<()> {
        let write = Write::Creds { session, creds, fence };
        match write_query(&self.queries, &write)? {
            Some(query) => self.write_one(session, fence, query),
            None => Ok(()),
        }
    }

    /// One statement (an index probe per id, see `Queries::get_keys`): one snapshot for all ids.
    fn get_keys(&mut self, session: &str, kind: &str, ids: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let pool = &self.pool;
        let query = sqlx::query_as::<_, (Vec<u8>, Vec<u8>)>(AssertSqlSafe(self.queries.get_keys.clone()))
            .bind(session.as_bytes())
            .bind(kind.as_bytes())
            .bind(ids.iter().map(|id| id.as_bytes()).collect::<Vec<&[u8]>>());
        let found: HashMap<Vec<u8>, Vec<u8>> = self.rounds.run(query.fetch_all(pool))?.into_iter().collect();
        Ok(ids.iter().map(|id| found.get(id.as_bytes()).cloned()).collect())
    }

    /// One statement whatever the batch's size: arrays are one parameter each, so 10,000 keys
    /// stay far under PostgreSQL's 65,535 parameters.
    fn apply(&mut self, session: &str, writes: &[KeyWrite], fence: Option<&Fence>) -> Result<()> {
        let write = Write::Keys { session, writes, fence };
        match write_query(&self.queries, &write)? {
            Some(query) => self.write_one(session, fence, query),
            None => {
                self.rounds.no_round_trip();
                Ok(())
            }
        }
    }

    fn clear_keys(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        self.clear(session, fence, false)
    }

    /// Deletes the session's creds and keys; its lease row stays (epochs never go back).
    fn delete_session(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        self.clear(session, fence, true)
    }

    fn acquire_lease(&mut self, session: &str, request: &LeaseRequest) -> Result<LeaseInfo> {
        let mut granted = self.acquire_leases(&[(session.to_owned(), request.clone())])?;
        granted.pop().unwrap_or_else(|| Err(StoreError::Io("PostgreSQL answered no lease request".into())))
    }

    fn renew_lease(&mut self, session: &str, fence: &Fence, lease_ms: u64) -> Result<LeaseInfo> {
        let mut renewed = self.renew_leases(&[(session.to_owned(), fence.clone())], lease_ms)?;
        renewed.pop().unwrap_or_else(|| Err(StoreError::Io("PostgreSQL answered no lease renewal".into())))
    }

    fn release_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        let pool = &self.pool;
        let (holder, epoch) = fence_args(Some(fence));
        let query = sqlx::query(AssertSqlSafe(self.queries.release_lease.clone())).bind(session.as_bytes()).bind(holder).bind(epoch);
        self.rounds.run(query.execute(pool)).map(drop)
    }

    /// One statement: the row goes only if the fence still matches.
    fn forget_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        let pool = &self.pool;
        let (holder, epoch) = fence_args(Some(fence));
        let query = sqlx::query(AssertSqlSafe(self.queries.forget_lease.clone())).bind(session.as_bytes()).bind(holder).bind(epoch);
        self.rounds.run(query.execute(pool)).map(drop)
    }

    /// Live by the server's clock.
    fn lease(&mut self, session: &str) -> Result<Option<LeaseInfo>> {
        let pool = &self.pool;
        let query = sqlx::query_as::<_, LeaseRow>(AssertSqlSafe(self.queries.lease.clone())).bind(session.as_bytes());
        match self.rounds.run(query.fetch_optional(pool))? {
            Some(row) => lease::lease_outcome(session, None, row),
            None => Ok(None),
        }
    }

    /// Paged by session (keyset), a round trip per page of [`PAGE`].
    fn leases(&mut self) -> Result<Vec<(String, LeaseInfo)>> {
        type Row = (Vec<u8>, String, i64, String, i64, i64, i64, bool);
        let mut out = Vec::new();
        let mut after: Vec<u8> = Vec::new();
        loop {
            let query = sqlx::query_as::<_, Row>(AssertSqlSafe(self.queries.leases_page.clone())).bind(after.clone()).bind(PAGE);
            let rows = self.page(query)?;
            let last_page = (rows.len() as i64) < PAGE;
            for (session, holder, epoch, host, pid, acquired, expires, live) in rows {
                after.clone_from(&session);
                let session = stored_text(session, "session")?;
                let row: LeaseRow = ("ok".into(), holder, epoch, host, pid, acquired, expires, live);
                if let Some(info) = lease::lease_outcome(&session, None, row)? {
                    out.push((session, info));
                }
            }
            if last_page {
                return Ok(out);
            }
        }
    }

    /// A name longer than any stored one (see [`Store::swap_meta`]) names no record.
    fn meta(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        if name.len() > MAX_RECORD_NAME_BYTES {
            return Ok(None);
        }
        let pool = &self.pool;
        let query = sqlx::query_scalar::<_, Vec<u8>>(AssertSqlSafe(self.queries.get_record.clone())).bind(name.as_bytes());
        self.rounds.run(query.fetch_optional(pool))
    }

    /// ONE statement, chosen by what is expected and what is to be written (see the record
    /// queries in `schema.rs`): atomic without an explicit transaction, one round trip, and
    /// committed (flushed, `synchronous_commit = on`) when it answers. Record names are at most
    /// as long as session ids, so that a store moves to MySQL whole.
    fn swap_meta(&mut self, name: &str, expected: Option<&[u8]>, value: Option<&[u8]>) -> Result<bool> {
        check_name("record name", name, MAX_RECORD_NAME_BYTES)?;
        let pool = &self.pool;
        let q = &self.queries;
        let swapped = match (expected, value) {
            (None, None) => {
                let query = sqlx::query_scalar::<_, bool>(AssertSqlSafe(q.record_absent.clone())).bind(name.as_bytes());
                return self.rounds.run(query.fetch_one(pool));
            }
            (None, Some(value)) => sqlx::query(AssertSqlSafe(q.create_record.clone())).bind(name.as_bytes()).bind(value),
            (Some(expected), Some(value)) => {
                sqlx::query(AssertSqlSafe(q.replace_record.clone())).bind(name.as_bytes()).bind(expected).bind(value)
            }
            (Some(expected), None) => sqlx::query(AssertSqlSafe(q.remove_record.clone())).bind(name.as_bytes()).bind(expected),
        };
        Ok(self.rounds.run(swapped.execute(pool))?.rows_affected() == 1)
    }

    /// Sessions with creds or keys, paged by session (keyset).
    fn sessions(&mut self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut after: Vec<u8> = Vec::new();
        loop {
            let query = sqlx::query_as::<_, (Vec<u8>,)>(AssertSqlSafe(self.queries.sessions_page.clone())).bind(after.clone()).bind(PAGE);
            let rows = self.page(query)?;
            let last_page = (rows.len() as i64) < PAGE;
            for (session,) in rows {
                after.clone_from(&session);
                out.push(stored_text(session, "session")?);
            }
            if last_page {
                return Ok(out);
            }
        }
    }

    /// Paged by (type, id) on the primary key (keyset), a round trip per page of [`PAGE`].
    fn list_keys(&mut self, session: &str) -> Result<Vec<KeyInfo>> {
        let mut out = Vec::new();
        let mut after: Option<(Vec<u8>, Vec<u8>)> = None;
        loop {
            let query = match &after {
                None => sqlx::query_as::<_, (Vec<u8>, Vec<u8>, i64)>(AssertSqlSafe(self.queries.keys_first_page.clone()))
                    .bind(session.as_bytes())
                    .bind(PAGE),
                Some((kind, id)) => sqlx::query_as(AssertSqlSafe(self.queries.keys_page.clone()))
                    .bind(session.as_bytes())
                    .bind(kind.clone())
                    .bind(id.clone())
                    .bind(PAGE),
            };
            let rows = self.page(query)?;
            let last_page = (rows.len() as i64) < PAGE;
            if let Some((kind, id, _)) = rows.last() {
                after = Some((kind.clone(), id.clone()));
            }
            for (kind, id, bytes) in rows {
                out.push(KeyInfo {
                    kind: stored_text(kind, "key type")?,
                    id: stored_text(id, "key id")?,
                    bytes: stored_count(bytes, "value length")?,
                });
            }
            if last_page {
                return Ok(out);
            }
        }
    }

    /// One query on the primary key: the session row and one aggregate row per type.
    fn stats(&mut self, session: &str) -> Result<SessionStats> {
        type Row = (Option<i64>, Option<i64>, Option<Vec<u8>>, Option<i64>, Option<i64>);
        let pool = &self.pool;
        let query = sqlx::query_as::<_, Row>(AssertSqlSafe(self.queries.stats.clone())).bind(session.as_bytes());
        let rows = self.rounds.run(query.fetch_all(pool))?;
        let (creds_bytes, updated_at) = rows.first().map_or((None, None), |row| (row.0, row.1));
        let mut kinds = Vec::new();
        for (_, _, kind, count, bytes) in rows {
            if let Some(kind) = kind {
                kinds.push(KindStats {
                    kind: stored_text(kind, "key type")?,
                    count: stored_count(count.unwrap_or(0), "key count")?,
                    bytes: stored_count(bytes.unwrap_or(0), "value length")?,
                });
            }
        }
        let creds_bytes = creds_bytes.map(|n| stored_count(n, "creds length")).transpose()?;
        let exists = creds_bytes.is_some() || !kinds.is_empty();
        Ok(SessionStats { creds_bytes, kinds, updated_at_ms: updated_at.filter(|_| exists) })
    }

    fn backup(&mut self, _dest: &std::path::Path) -> Result<()> {
        Err(StoreError::Unsupported(
            "backup copies SQLite stores only; for PostgreSQL use its own backups (pg_dump --schema=<schema>, or base backups with WAL archiving), or migrate the sessions to a SQLite file".into(),
        ))
    }

    /// Keys whose session row is missing, and lease rows no write or grant leaves behind.
    fn check(&mut self) -> Result<Vec<String>> {
        let pool = &self.pool;
        let orphans = sqlx::query_scalar::<_, i64>(AssertSqlSafe(self.queries.orphan_keys.clone()));
        let orphans = self.rounds.run(orphans.fetch_one(pool))?;
        let bad = sqlx::query_scalar::<_, i64>(AssertSqlSafe(self.queries.bad_leases.clone()));
        let bad = self.rounds.run(bad.fetch_one(pool))?;
        let mut problems = Vec::new();
        if orphans > 0 {
            problems.push(format!("{orphans} keys belong to no session"));
        }
        if bad > 0 {
            problems.push(format!("{bad} leases have a negative epoch, or a holder without an epoch"));
        }
        Ok(problems)
    }

    fn name_limits(&self) -> Option<crate::core::store::NameLimits> {
        Some(crate::core::sql::NAME_LIMITS)
    }

    fn identity(&self) -> String {
        self.identity.clone()
    }

    /// One transaction and one commit for the whole group; see [`PostgresStore::write_group_tx`].
    /// A lone write takes the plain path (one statement, no savepoint).
    /// Each write has its own deadline ([`Rounds::group_in_time`]): one that waited in line
    /// past it fails alone, unsent; the others go as one transaction.
    fn write_group(&mut self, group: &[Write<'_>]) -> Vec<Result<()>> {
        let (in_time, sent) = self.rounds.group_in_time(group);
        let results = match sent[..] {
            [] => Vec::new(),
            [write] => vec![write.apply_to(self)],
            _ => match self.write_group_tx(&sent) {
                Ok(results) => results,
                Err(err) => sent.iter().map(|_| Err(err.clone())).collect(),
            },
        };
        self.rounds.with_late_writes(&in_time, results)
    }

    /// All in ONE statement (`acquire_leases` in the schema): one round trip and one
    /// transaction however many sessions, each with its own outcome.
    fn acquire_leases(&mut self, requests: &[(String, LeaseRequest)]) -> Result<Vec<Result<LeaseInfo>>> {
        for (session, request) in requests {
            leases::check_lease_ms(request.lease_ms)?;
            check_name("session id", session, MAX_SESSION_BYTES)?;
            if request.holder.is_empty() {
                return Err(StoreError::invalid("a lease's holder must not be empty"));
            }
        }
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let claim = |claim: Claim| match claim {
            Claim::Refuse => "refuse",
            Claim::SameProcess => "process",
            Claim::Takeover => "takeover",
        };
        let query = sqlx::query_as::<_, IndexedLeaseRow>(AssertSqlSafe(self.queries.acquire_leases.clone()))
            .bind(requests.iter().map(|(s, _)| s.as_bytes()).collect::<Vec<&[u8]>>())
            .bind(requests.iter().map(|(_, r)| r.holder.as_str()).collect::<Vec<&str>>())
            .bind(requests.iter().map(|(_, r)| r.process.as_str()).collect::<Vec<&str>>())
            .bind(requests.iter().map(|(_, r)| r.host.as_str()).collect::<Vec<&str>>())
            .bind(requests.iter().map(|(_, r)| i64::from(r.pid)).collect::<Vec<i64>>())
            .bind(requests.iter().map(|(_, r)| r.lease_ms as i64).collect::<Vec<i64>>())
            .bind(requests.iter().map(|(_, r)| claim(r.claim)).collect::<Vec<&str>>());
        let rows = self.page(query)?;
        let rows = lease::in_request_order(rows, requests.len())?;
        Ok(rows.into_iter().zip(requests).map(|(row, (session, _))| lease::granted(session, None, row)).collect())
    }

    /// All in ONE statement (`renew_leases` in the schema), each with its own outcome.
    fn renew_leases(&mut self, fences: &[(String, Fence)], lease_ms: u64) -> Result<Vec<Result<LeaseInfo>>> {
        leases::check_lease_ms(lease_ms)?;
        if fences.is_empty() {
            return Ok(Vec::new());
        }
        let query = sqlx::query_as::<_, IndexedLeaseRow>(AssertSqlSafe(self.queries.renew_leases.clone()))
            .bind(fences.iter().map(|(s, _)| s.as_bytes()).collect::<Vec<&[u8]>>())
            .bind(fences.iter().map(|(_, f)| fence_args(Some(f)).0.unwrap_or("")).collect::<Vec<&str>>())
            .bind(fences.iter().map(|(_, f)| fence_args(Some(f)).1.unwrap_or(-1)).collect::<Vec<i64>>())
            .bind(lease_ms as i64);
        let rows = self.page(query)?;
        let rows = lease::in_request_order(rows, fences.len())?;
        Ok(rows.into_iter().zip(fences).map(|(row, (session, fence))| lease::granted(session, Some(fence), row)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(kind: &str, id: &str, value: &[u8]) -> KeyWrite {
        KeyWrite { kind: kind.into(), id: id.into(), value: Some(value.to_vec()) }
    }

    #[test]
    fn url_parameters_the_driver_does_not_read_are_refused_without_showing_the_password() {
        let check = |url: &str| connect_options(&SqlTarget::parse(url).unwrap()).map(drop);
        for url in [
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem&application_name=x&options[statement_timeout]=5",
            "postgres://u@h/db?schema=bots&ssl%2Dmode=require",
            "postgresql:///db?host=/run/postgresql&port=5433&user=u",
        ] {
            assert!(check(url).is_ok(), "{url}");
        }
        for url in ["postgres://u:s3cret@h/db?ssl_mode=verify-full", "postgres://u:s3cret@h/db?sslmode=require&bogus"] {
            let err = check(url).unwrap_err();
            assert_eq!(err.code(), "ERR_INVALID_ARG", "{url}");
            assert!(err.to_string().contains("unknown parameter") && !err.to_string().contains("s3cret"), "{err}");
        }
    }

    fn del(kind: &str, id: &str) -> KeyWrite {
        KeyWrite { kind: kind.into(), id: id.into(), value: None }
    }

    fn target(url: &str) -> SqlTarget {
        SqlTarget::parse(url).unwrap()
    }

    #[test]
    fn the_last_write_of_a_key_wins_and_a_batch_splits_into_deletes_and_sets() {
        let writes = [
            put("t", "a", b"1"),
            del("t", "b"),
            put("t", "b", b"2"),
            put("t", "a", b"3"),
            del("u", "a"),
            put("t", "c", b"4"),
            del("t", "c"),
        ];
        let arrays = key_arrays(&writes);
        assert_eq!(arrays.set_types, [b"t".as_slice(), b"t"]);
        assert_eq!(arrays.set_ids, [b"b".as_slice(), b"a"]);
        assert_eq!(arrays.set_values, [b"2".as_slice(), b"3"]);
        assert_eq!(arrays.del_types, [b"u".as_slice(), b"t"]);
        assert_eq!(arrays.del_ids, [b"a".as_slice(), b"c"]);
        assert_eq!(key_arrays(&[]), KeyArrays::default());
    }

    #[test]
    fn urls_give_host_port_user_database_sslmode_and_unix_sockets() {
        let options = connect_options(&target("postgres://bot:pw@db.example:6543/auth?sslmode=require")).unwrap();
        assert_eq!((options.get_host(), options.get_port(), options.get_username()), ("db.example", 6543, "bot"));
        assert_eq!(options.get_database(), Some("auth"));
        assert!(matches!(options.get_ssl_mode(), sqlx::postgres::PgSslMode::Require));
        assert_eq!(options.get_application_name(), Some(APPLICATION_NAME));

        let socket = connect_options(&target("postgresql:///test?host=/run/postgresql&schema=bots")).unwrap();
        assert_eq!(socket.get_socket().map(|p| p.to_str().unwrap()), Some("/run/postgresql"));
        assert_eq!(socket.get_database(), Some("test"));
        let encoded = connect_options(&target("postgres://postgres@%2Fvar%2Frun%2Fpostgresql:5433/test")).unwrap();
        assert_eq!(encoded.get_socket().map(|p| p.to_str().unwrap()), Some("/var/run/postgresql"));
        assert_eq!(encoded.get_port(), 5433);

        let named = connect_options(&target("postgres://h/db?application_name=fleet-7")).unwrap();
        assert_eq!(named.get_application_name(), Some("fleet-7"), "the URL's application_name is kept");
    }

    #[test]
    fn a_bad_url_is_an_invalid_argument_that_does_not_show_the_password() {
        let err = PostgresStore::open(&target("postgres://u:s3cret@h:notaport/db"), SqlOptions::default(), true).err().unwrap();
        assert_eq!(err.code(), "ERR_INVALID_ARG", "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    /// Every connection of the pool runs `synchronous_commit = on` (and the other session
    /// settings) even when its startup options say otherwise, and names itself. Needs the
    /// machine's PostgreSQL (skipped without it, outside CI).
    #[test]
    fn every_pooled_connection_commits_synchronously_whatever_its_defaults() {
        let reachable = std::net::TcpStream::connect_timeout(&"127.0.0.1:5432".parse().unwrap(), Duration::from_secs(2)).is_ok();
        if !reachable {
            assert!(std::env::var("CI").is_err(), "PostgreSQL is required in CI");
            eprintln!("skipping: no PostgreSQL at 127.0.0.1:5432");
            return;
        }
        let schema = format!("bra_unit_{}", std::process::id());
        let url = "postgres://postgres@127.0.0.1:5432/test?options=-c%20synchronous_commit%3Doff";
        let options = SqlOptions { namespace: Some(schema.clone()), ..SqlOptions::default() };
        let mut store = PostgresStore::open(&target(url), options, true).unwrap();
        let pool = store.pool.clone();
        let settings: (String, String, String, String) = store
            .rounds
            .run(async move {
                let mut conn = pool.acquire().await?;
                let settings = sqlx::query_as(
                    "SELECT current_setting('synchronous_commit'), current_setting('idle_in_transaction_session_timeout'),
                            current_setting('default_transaction_isolation'), current_setting('application_name')",
                )
                .fetch_one(&mut *conn)
                .await?;
                sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE"))).execute(&mut *conn).await?;
                Ok(settings)
            })
            .unwrap();
        assert_eq!(settings, ("on".into(), "1min".into(), "read committed".into(), APPLICATION_NAME.into()));
    }

    #[test]
    fn fences_beyond_i64_name_no_lease() {
        assert_eq!(fence_args(Some(&Fence { holder: "h".into(), epoch: u64::MAX })), (Some("h"), Some(-1)));
        assert_eq!(fence_args(None), (None, None));
    }
}
