//! The MySQL / MariaDB backend (`docs/mysql.md`): `mysql://` and `mariadb://` URLs, tables
//! `<prefix>sessions`, `<prefix>keys`, `<prefix>leases`, `<prefix>store_records` (the store's
//! own records, [`Store::meta`], which no session statement reads) and `<prefix>schema_version` in the
//! URL's database (prefix `baileys_` by default), InnoDB, names as `VARBINARY` (their UTF-8
//! bytes, so byte order and NUL as the contract wants), values as `LONGBLOB` codec blobs.
//!
//! - Writes: one transaction each, at `READ COMMITTED` (see `connect::pool` for why), that
//!   locks the session's lease row, checks the fence, and writes with a constant number of
//!   round trips whatever the batch size (multi-row statements, chunked under the server's
//!   65,535 placeholders and `max_allowed_packet`); see `write.rs`.
//! - Group commit ([`Store::write_group`]): one transaction, a `SAVEPOINT` per write, one COMMIT.
//! - Leases by the server's clock, decided on locked rows (`lease.rs`).
//! - Durability: an `Ok` is a COMMIT the server acknowledged; with
//!   `innodb_flush_log_at_trx_commit = 1` (read at open, warned about otherwise) it is on disk.
//! - Migrations: `migrate.rs`, under `GET_LOCK`, idempotent steps, version row last.
//!
//! Files: `connect.rs` (URL, pool, what the server says at open), `migrate.rs`, `tables.rs`
//! (names, limits, helpers), `write.rs`, `lease.rs`; this file is the [`Store`] implementation.

mod connect;
mod lease;
mod migrate;
mod tables;
mod write;

use std::collections::BTreeMap;

use sqlx::mysql::MySqlPool;
use sqlx::{AssertSqlSafe, Row};

pub use migrate::SCHEMA_VERSION;
pub use tables::{MAX_ID_BYTES, MAX_SESSION_BYTES, MAX_TYPE_BYTES};

use crate::core::error::{Result, StoreError};
use crate::core::lease::{self as leases, Fence, LeaseInfo, LeaseRequest};
use crate::core::sql::{install_tls_provider, Rounds, SqlOptions, SqlServer, SqlTarget};
use crate::core::store::{KeyInfo, KeyWrite, KindStats, SessionStats, Store, Write};
use tables::{check_session, groups, padded, q, text, Ctx, StoredLease, Tables, LEASE_COLUMNS, PAGE};
use write::Op;

/// The longest record name ([`Store::swap_meta`]), in UTF-8 bytes: its column is as wide as
/// a session id's.
const MAX_RECORD_NAME_BYTES: usize = MAX_SESSION_BYTES;

/// MySQL's error number for a duplicate key.
const ER_DUP_ENTRY: u16 = 1062;

/// Ids per `SELECT … IN (…)` of `get_keys`.
const GET_CHUNK: usize = 1024;

pub struct MysqlStore {
    rounds: Rounds,
    pool: MySqlPool,
    ctx: Ctx,
    /// See [`Store::identity`].
    identity: String,
}

impl MysqlStore {
    /// Connects (failing `ERR_STORE_UNAVAILABLE` within `connectTimeoutMs` if the server is
    /// down), migrates unless `create` is false (then the tables must be there, at this
    /// version), and reads what the server is.
    pub fn open(target: &SqlTarget, options: SqlOptions, create: bool) -> Result<MysqlStore> {
        if target.server != SqlServer::Mysql {
            return Err(StoreError::invalid("MysqlStore opens mysql:// and mariadb:// URLs"));
        }
        let prefix = options.resolve(target)?;
        let connect_options = connect::connect_options(target)?;
        install_tls_provider();
        let shown = target.shown();
        let mut rounds = Rounds::new(SqlServer::Mysql, shown.clone(), options.command_timeout)?;
        let ctx = Ctx {
            t: Tables::new(&prefix),
            shown: shown.clone(),
            max_packet: 1 << 20,
            lock_wait_secs: connect::lock_wait_secs(options.command_timeout),
        };
        let connect_timeout = options.connect_timeout;
        let pool = rounds.block_on(async {
            match tokio::time::timeout(connect_timeout, connect::pool(connect_options, &options)).await {
                Ok(Ok(pool)) => Ok(pool),
                Ok(Err(e)) => Err(ctx.err(e)),
                Err(_) => Err(StoreError::Unavailable(format!("MySQL at {shown}: no connection within connectTimeoutMs"))),
            }
        })?;
        let lock_wait_secs = options.command_timeout.as_secs().max(1);
        let facts = rounds.run_mapped(async {
            let mut conn = pool.acquire().await.map_err(|e| ctx.err(e))?;
            let facts = connect::server_facts(&mut conn).await.map_err(|e| ctx.err(e))?;
            migrate::migrate(&mut conn, &ctx, &facts.database, create, lock_wait_secs).await?;
            Ok(facts)
        })?;
        if facts.flush_log_at_trx_commit != Some(1) {
            tracing::warn!(
                server = %shown,
                innodb_flush_log_at_trx_commit = ?facts.flush_log_at_trx_commit,
                "MySQL does not flush its log at every commit: an acknowledged write can be lost if the server's machine crashes (set innodb_flush_log_at_trx_commit = 1)"
            );
        }
        let identity = match &facts.server {
            Some(server) => format!("mysql:{server}:{}:{prefix}", facts.database),
            None => format!("unverified:mysql:{shown}:{prefix}"),
        };
        tracing::debug!(server = %shown, version = %facts.version, max_allowed_packet = facts.max_packet, "mysql store opened");
        let ctx = Ctx { max_packet: facts.max_packet, ..ctx };
        Ok(MysqlStore { rounds, pool, ctx, identity })
    }

    /// Runs `op` alone: one transaction, committed if it wrote, rolled back if refused.
    fn write_one(&mut self, op: Op<'_>, fence: Option<&Fence>) -> Result<()> {
        op.check(&self.ctx)?;
        let (pool, ctx) = (&self.pool, &self.ctx);
        self.rounds.run_mapped(async move {
            let mut tx = pool.begin().await.map_err(|e| ctx.err(e))?;
            match write::write(&mut tx, ctx, op, fence).await {
                Ok(()) => tx.commit().await.map_err(|e| ctx.err(e)),
                Err(err) => {
                    // Always, also after a lock wait timeout (1205 undoes only its statement:
                    // the transaction would go on holding the lease row). On a connection that
                    // is gone the rollback fails at once, and the server has rolled back.
                    let _ = tx.rollback().await;
                    Err(err)
                }
            }
        })
    }

    /// Pages through `sql` (a keyset query taking `bind` then the last key seen), one round
    /// trip and deadline per page.
    fn page_names(&mut self, first: String, next: String) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        loop {
            let (pool, ctx) = (&self.pool, &self.ctx);
            let last = out.last().cloned();
            let (first, next) = (first.clone(), next.clone());
            let page: Vec<Vec<u8>> = self.rounds.run_mapped(async move {
                let query = match &last {
                    None => q(first),
                    Some(last) => q(next).bind(last.as_bytes().to_vec()),
                };
                let rows = query.fetch_all(pool).await.map_err(|e| ctx.err(e))?;
                rows.iter().map(|row| row.try_get::<Vec<u8>, _>(0).map_err(|e| ctx.err(e))).collect()
            })?;
            let full = page.len() as i64 == PAGE;
            for name in page {
                out.push(text(name, "session id")?);
            }
            if !full {
                return Ok(out);
            }
        }
    }

    /// [`Store::write_group`] for the writes still in time.
    fn write_group_in_time(&mut self, group: &[Write<'_>]) -> Vec<Result<()>> {
        if group.len() < 2 {
            return group.iter().map(|write| write.apply_to(self)).collect();
        }
        let ops: Vec<(Op<'_>, Option<&Fence>)> = group
            .iter()
            .map(|w| match *w {
                Write::Creds { session, creds, fence } => (Op::Creds { session, creds }, fence),
                Write::Keys { session, writes, fence } => (Op::Keys { session, writes }, fence),
            })
            .collect();
        let mut results: Vec<Option<Result<()>>> = ops
            .iter()
            .map(|(op, _)| match op {
                Op::Keys { writes: [], .. } => Some(Ok(())),
                op => op.check(&self.ctx).err().map(Err),
            })
            .collect();
        let (pool, ctx) = (&self.pool, &self.ctx);
        let results_slot = &mut results;
        let outcome: Result<()> = self.rounds.run_until(|deadline| async move {
            let results = results_slot;
            let mut tx = pool.begin().await.map_err(|e| ctx.err(e))?;
            let mut lock_wait = ctx.lock_wait_secs;
            for (i, (op, fence)) in ops.iter().enumerate() {
                if results[i].is_some() {
                    continue;
                }
                // One savepoint name, set again before each write: each replaces the last. A
                // write's lock wait is half of what the group has left, so that one stalled
                // write leaves time for the writes after it (it fails alone, 1205).
                let wait = connect::lock_wait_secs(deadline.saturating_duration_since(std::time::Instant::now())).min(ctx.lock_wait_secs);
                let mut statements = String::from("SAVEPOINT w");
                if wait != lock_wait {
                    statements.push_str(&format!("; SET SESSION innodb_lock_wait_timeout = {wait}"));
                    lock_wait = wait;
                }
                sqlx::raw_sql(AssertSqlSafe(statements)).execute(&mut *tx).await.map_err(|e| ctx.err(e))?;
                match write::write(&mut tx, ctx, *op, *fence).await {
                    Ok(()) => results[i] = Some(Ok(())),
                    // Whether the failure ended the transaction is told by the savepoint, which
                    // exists only while the transaction does: most errors undo just their
                    // statement (a lock wait timeout too, unless the server runs with
                    // `innodb_rollback_on_timeout`), a deadlock undoes the whole transaction, and
                    // a lost connection takes it away. Only then does the whole group fail.
                    Err(err) => match sqlx::raw_sql("ROLLBACK TO SAVEPOINT w").execute(&mut *tx).await {
                        Ok(_) => results[i] = Some(Err(err)),
                        Err(_) => return Err(err),
                    },
                }
            }
            if lock_wait != ctx.lock_wait_secs {
                // The connection goes back to the pool with the lock wait every write expects.
                let reset = format!("SET SESSION innodb_lock_wait_timeout = {}", ctx.lock_wait_secs);
                sqlx::raw_sql(AssertSqlSafe(reset)).execute(&mut *tx).await.map_err(|e| ctx.err(e))?;
            }
            tx.commit().await.map_err(|e| ctx.err(e))
        });
        results
            .into_iter()
            .map(|r| match (&outcome, r) {
                (Ok(()), Some(r)) => r,
                (Err(err), Some(Ok(()))) | (Err(err), None) => Err(err.clone()),
                (Err(_), Some(Err(own))) => Err(own),
                (Ok(()), None) => Err(StoreError::Io("MySQL: a grouped write was not run".into())),
            })
            .collect()
    }
}

impl Store for MysqlStore {
    fn operation_issued(&mut self, at: std::time::Instant) {
        self.rounds.issued(at);
    }

    fn group_issued(&mut self, at: &[std::time::Instant]) {
        self.rounds.issued_group(at);
    }

    fn get_creds(&mut self, session: &str) -> Result<Option<Vec<u8>>> {
        if check_session(session).is_err() {
            return Ok(None);
        }
        let (pool, ctx) = (&self.pool, &self.ctx);
        let sql = format!("SELECT creds FROM {} WHERE session = ?", ctx.t.sessions);
        self.rounds.run_mapped(async move {
            let row = q(sql).bind(session.as_bytes()).fetch_optional(pool).await.map_err(|e| ctx.err(e))?;
            match row {
                Some(row) => row.try_get::<Option<Vec<u8>>, _>(0).map_err(|e| ctx.err(e)),
                None => Ok(None),
            }
        })
    }

    fn set_creds(&mut self, session: &str, creds: &[u8], fence: Option<&Fence>) -> Result<()> {
        self.write_one(Op::Creds { session, creds }, fence)
    }

    /// One `SELECT … IN (…)` per 1,024 ids, all in one deadline.
    fn get_keys(&mut self, session: &str, kind: &str, ids: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if check_session(session).is_err() || kind.len() > MAX_TYPE_BYTES {
            return Ok(vec![None; ids.len()]);
        }
        // Ids longer than the column cannot be stored: they are absent.
        let wanted: Vec<&str> = ids.iter().map(String::as_str).filter(|id| id.len() <= MAX_ID_BYTES).collect();
        let (pool, ctx) = (&self.pool, &self.ctx);
        let found: BTreeMap<Vec<u8>, Vec<u8>> = self.rounds.run_mapped(async move {
            let mut found = BTreeMap::new();
            for chunk in wanted.chunks(GET_CHUNK) {
                let n = padded(chunk.len(), GET_CHUNK);
                let sql = format!("SELECT id, value FROM {} WHERE session = ? AND type = ? AND id IN ({})", ctx.t.keys, groups("?", n));
                let mut query = q(sql).bind(session.as_bytes()).bind(kind.as_bytes());
                for i in 0..n {
                    query = query.bind(chunk[i.min(chunk.len() - 1)].as_bytes());
                }
                for row in query.fetch_all(pool).await.map_err(|e| ctx.err(e))? {
                    let id: Vec<u8> = row.try_get(0).map_err(|e| ctx.err(e))?;
                    let value: Vec<u8> = row.try_get(1).map_err(|e| ctx.err(e))?;
                    found.insert(id, value);
                }
            }
            Ok(found)
        })?;
        Ok(ids.iter().map(|id| found.get(id.as_bytes()).cloned()).collect())
    }

    fn apply(&mut self, session: &str, writes: &[KeyWrite], fence: Option<&Fence>) -> Result<()> {
        if writes.is_empty() {
            self.rounds.no_round_trip();
            return Ok(());
        }
        self.write_one(Op::Keys { session, writes }, fence)
    }

    fn clear_keys(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        self.write_one(Op::Clear { session }, fence)
    }

    fn delete_session(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        self.write_one(Op::Delete { session }, fence)
    }

    fn acquire_lease(&mut self, session: &str, request: &LeaseRequest) -> Result<LeaseInfo> {
        leases::check_lease_ms(request.lease_ms)?;
        lease::check_request(session, request)?;
        let mut outcomes = self.acquire_leases(&[(session.to_owned(), request.clone())])?;
        outcomes.pop().unwrap_or_else(|| Err(StoreError::Io("MySQL: an acquisition returned no outcome".into())))
    }

    fn renew_lease(&mut self, session: &str, fence: &Fence, lease_ms: u64) -> Result<LeaseInfo> {
        let mut outcomes = self.renew_leases(&[(session.to_owned(), fence.clone())], lease_ms)?;
        outcomes.pop().unwrap_or_else(|| Err(StoreError::Io("MySQL: a renewal returned no outcome".into())))
    }

    /// One statement: the holder is cleared only if the fence still matches.
    fn release_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        if check_session(session).is_err() {
            return Ok(());
        }
        let pool = &self.pool;
        let sql = format!("UPDATE {} SET holder = '' WHERE session = ? AND holder <> '' AND holder = ? AND epoch = ?", self.ctx.t.leases);
        self.rounds.run(async move {
            q(sql).bind(session.as_bytes()).bind(fence.holder.as_bytes()).bind(fence.epoch as i64).execute(pool).await.map(drop)
        })
    }

    /// One statement: the row goes only if the fence still matches.
    fn forget_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        if check_session(session).is_err() {
            return Ok(());
        }
        let pool = &self.pool;
        let sql = lease::forget_sql(&self.ctx.t.leases);
        self.rounds.run(async move {
            q(sql).bind(session.as_bytes()).bind(fence.holder.as_bytes()).bind(fence.epoch as i64).execute(pool).await.map(drop)
        })
    }

    /// The placeholder rows of writes (epoch 0) are no lease.
    fn lease(&mut self, session: &str) -> Result<Option<LeaseInfo>> {
        if check_session(session).is_err() {
            return Ok(None);
        }
        let (pool, ctx) = (&self.pool, &self.ctx);
        let sql = format!("SELECT {LEASE_COLUMNS} FROM {} WHERE session = ? AND epoch > 0", ctx.t.leases);
        self.rounds.run_mapped(async move {
            match q(sql).bind(session.as_bytes()).fetch_optional(pool).await.map_err(|e| ctx.err(e))? {
                Some(row) => Ok(Some(StoredLease::read(&row, 0, ctx)?.info())),
                None => Ok(None),
            }
        })
    }

    /// Keyset pages of 5,000, each its own round trip and deadline.
    fn leases(&mut self) -> Result<Vec<(String, LeaseInfo)>> {
        let mut out: Vec<(String, LeaseInfo)> = Vec::new();
        loop {
            let (pool, ctx) = (&self.pool, &self.ctx);
            let last = out.last().map(|(s, _)| s.clone());
            let page: Vec<(String, LeaseInfo)> = self.rounds.run_mapped(async move {
                let t = &ctx.t.leases;
                let query = match &last {
                    None => q(format!("SELECT session, {LEASE_COLUMNS} FROM {t} WHERE epoch > 0 ORDER BY session LIMIT {PAGE}")),
                    Some(last) => {
                        q(format!("SELECT session, {LEASE_COLUMNS} FROM {t} WHERE epoch > 0 AND session > ? ORDER BY session LIMIT {PAGE}"))
                            .bind(last.as_bytes().to_vec())
                    }
                };
                let rows = query.fetch_all(pool).await.map_err(|e| ctx.err(e))?;
                rows.iter()
                    .map(|row| {
                        let session = text(row.try_get::<Vec<u8>, _>(0).map_err(|e| ctx.err(e))?, "session id")?;
                        Ok((session, StoredLease::read(row, 1, ctx)?.info()))
                    })
                    .collect()
            })?;
            let full = page.len() as i64 == PAGE;
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// A name longer than the column names no record.
    fn meta(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        if name.len() > MAX_RECORD_NAME_BYTES {
            return Ok(None);
        }
        let (pool, ctx) = (&self.pool, &self.ctx);
        let sql = format!("SELECT value FROM {} WHERE name = ?", ctx.t.records);
        self.rounds.run_mapped(async move {
            match q(sql).bind(name.as_bytes()).fetch_optional(pool).await.map_err(|e| ctx.err(e))? {
                Some(row) => row.try_get::<Vec<u8>, _>(0).map(Some).map_err(|e| ctx.err(e)),
                None => Ok(None),
            }
        })
    }

    /// ONE statement (autocommit: its own transaction, committed when it answers), chosen by
    /// what is expected and what is to be written. InnoDB's `UPDATE` and `DELETE` read the
    /// row's latest committed version under its lock, so the comparison in their `WHERE` and
    /// the change are one; of two creators, the second's `INSERT` waits for the first's row
    /// and fails as a duplicate (which is "not swapped"). The row counts are rows *matched*,
    /// not changed (sqlx connects with `CLIENT_FOUND_ROWS`), so replacing a value by itself is
    /// a swap too.
    fn swap_meta(&mut self, name: &str, expected: Option<&[u8]>, value: Option<&[u8]>) -> Result<bool> {
        tables::check_name("record name", name, MAX_RECORD_NAME_BYTES)?;
        if let Some(value) = value {
            self.ctx.check_value("a record", value.len() + expected.map_or(0, <[u8]>::len) + name.len())?;
        }
        let (pool, ctx) = (&self.pool, &self.ctx);
        let t = &ctx.t.records;
        let query = match (expected, value) {
            (None, None) => q(format!("SELECT CAST(COUNT(*) AS SIGNED) FROM {t} WHERE name = ?")).bind(name.as_bytes()),
            (None, Some(value)) => q(format!("INSERT INTO {t} (name, value) VALUES (?, ?)")).bind(name.as_bytes()).bind(value),
            (Some(expected), Some(value)) => {
                q(format!("UPDATE {t} SET value = ? WHERE name = ? AND value = ?")).bind(value).bind(name.as_bytes()).bind(expected)
            }
            (Some(expected), None) => q(format!("DELETE FROM {t} WHERE name = ? AND value = ?")).bind(name.as_bytes()).bind(expected),
        };
        self.rounds.run_mapped(async move {
            if expected.is_none() && value.is_none() {
                let row = query.fetch_one(pool).await.map_err(|e| ctx.err(e))?;
                return Ok(row.try_get::<i64, _>(0).map_err(|e| ctx.err(e))? == 0);
            }
            match query.execute(pool).await {
                Ok(done) => Ok(done.rows_affected() == 1),
                Err(e) if tables::mysql_number(&e) == Some(ER_DUP_ENTRY) => Ok(false),
                Err(e) => Err(ctx.err(e)),
            }
        })
    }

    /// Sessions with creds or at least one key (a session row whose keys were all deleted
    /// stays until the session is deleted, and is not listed).
    fn sessions(&mut self) -> Result<Vec<String>> {
        let (s, k) = (&self.ctx.t.sessions, &self.ctx.t.keys);
        let has_data = format!("(s.creds IS NOT NULL OR EXISTS (SELECT 1 FROM {k} k WHERE k.session = s.session))");
        let first = format!("SELECT s.session FROM {s} s WHERE {has_data} ORDER BY s.session LIMIT {PAGE}");
        let next = format!("SELECT s.session FROM {s} s WHERE {has_data} AND s.session > ? ORDER BY s.session LIMIT {PAGE}");
        self.page_names(first, next)
    }

    fn list_keys(&mut self, session: &str) -> Result<Vec<KeyInfo>> {
        if check_session(session).is_err() {
            return Ok(Vec::new());
        }
        let mut out: Vec<KeyInfo> = Vec::new();
        loop {
            let (pool, ctx) = (&self.pool, &self.ctx);
            let last = out.last().map(|k| (k.kind.clone(), k.id.clone()));
            let page: Vec<KeyInfo> = self.rounds.run_mapped(async move {
                let t = &ctx.t.keys;
                let columns = "type, id, CAST(LENGTH(value) AS SIGNED)";
                let query = match &last {
                    None => {
                        q(format!("SELECT {columns} FROM {t} WHERE session = ? ORDER BY type, id LIMIT {PAGE}")).bind(session.as_bytes())
                    }
                    Some((kind, id)) => q(format!(
                        "SELECT {columns} FROM {t} WHERE session = ? AND (type > ? OR (type = ? AND id > ?)) ORDER BY type, id LIMIT {PAGE}"
                    ))
                    .bind(session.as_bytes())
                    .bind(kind.as_bytes())
                    .bind(kind.as_bytes())
                    .bind(id.as_bytes()),
                };
                let rows = query.fetch_all(pool).await.map_err(|e| ctx.err(e))?;
                rows.iter()
                    .map(|row| {
                        Ok(KeyInfo {
                            kind: text(row.try_get(0).map_err(|e| ctx.err(e))?, "key type")?,
                            id: text(row.try_get(1).map_err(|e| ctx.err(e))?, "key id")?,
                            bytes: u64::try_from(row.try_get::<i64, _>(2).map_err(|e| ctx.err(e))?).unwrap_or(0),
                        })
                    })
                    .collect()
            })?;
            let full = page.len() as i64 == PAGE;
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// One statement (a consistent read): the session row, then a row per type.
    fn stats(&mut self, session: &str) -> Result<SessionStats> {
        if check_session(session).is_err() {
            return Ok(SessionStats::default());
        }
        let (pool, ctx) = (&self.pool, &self.ctx);
        let sql = format!(
            "SELECT 0, CAST(NULL AS BINARY), CAST(LENGTH(creds) AS SIGNED), CAST(updated_at AS SIGNED) FROM {} WHERE session = ? \
             UNION ALL \
             SELECT 1, type, CAST(COUNT(*) AS SIGNED), CAST(SUM(LENGTH(value)) AS SIGNED) FROM {} WHERE session = ? GROUP BY type \
             ORDER BY 1, 2",
            ctx.t.sessions, ctx.t.keys
        );
        let rows = self.rounds.run_mapped(async move {
            q(sql).bind(session.as_bytes()).bind(session.as_bytes()).fetch_all(pool).await.map_err(|e| ctx.err(e))
        })?;
        let mut stats = SessionStats::default();
        let mut updated = None;
        for row in rows {
            let part: i64 = row.try_get(0).map_err(|e| self.rounds.map(e))?;
            let a: Option<i64> = row.try_get(2).map_err(|e| self.ctx.err(e))?;
            let b: Option<i64> = row.try_get(3).map_err(|e| self.ctx.err(e))?;
            let size = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
            if part == 0 {
                stats.creds_bytes = a.map(|n| size(Some(n)));
                updated = b;
            } else {
                let kind: Option<Vec<u8>> = row.try_get(1).map_err(|e| self.ctx.err(e))?;
                let kind = text(kind.unwrap_or_default(), "key type")?;
                stats.kinds.push(KindStats { kind, count: size(a), bytes: size(b) });
            }
        }
        if stats.creds_bytes.is_some() || !stats.kinds.is_empty() {
            stats.updated_at_ms = updated;
        }
        Ok(stats)
    }

    fn backup(&mut self, _dest: &std::path::Path) -> Result<()> {
        Err(StoreError::Unsupported(
            "backup copies SQLite stores only; for MySQL use its own tools (mysqldump --single-transaction, mariadb-backup or a replica), or migrate the sessions to a SQLite file".into(),
        ))
    }

    /// Keys whose session row is missing, lease rows that no lease can be (a negative epoch,
    /// a holder on a placeholder), and a version other than this code's.
    fn check(&mut self) -> Result<Vec<String>> {
        let (pool, ctx) = (&self.pool, &self.ctx);
        let t = &ctx.t;
        let checks = [
            (
                format!(
                    "SELECT CAST(COUNT(*) AS SIGNED) FROM {} k LEFT JOIN {} s ON s.session = k.session WHERE s.session IS NULL",
                    t.keys, t.sessions
                ),
                "keys belong to no session row",
            ),
            (format!("SELECT CAST(COUNT(*) AS SIGNED) FROM {} WHERE epoch < 0", t.leases), "leases have a negative epoch"),
            (
                format!("SELECT CAST(COUNT(*) AS SIGNED) FROM {} WHERE epoch = 0 AND holder <> ''", t.leases),
                "leases of epoch 0 name a holder",
            ),
            (
                format!("SELECT CAST(COUNT(*) AS SIGNED) FROM {} WHERE id = 1 AND version <> {SCHEMA_VERSION}", t.version),
                "schema version rows differ from this code's",
            ),
        ];
        self.rounds.run_mapped(async move {
            let mut problems = Vec::new();
            for (sql, what) in checks {
                let row = q(sql).fetch_one(pool).await.map_err(|e| ctx.err(e))?;
                let n: i64 = row.try_get(0).map_err(|e| ctx.err(e))?;
                if n != 0 {
                    problems.push(format!("{n} {what}"));
                }
            }
            Ok(problems)
        })
    }

    fn name_limits(&self) -> Option<crate::core::store::NameLimits> {
        Some(crate::core::sql::NAME_LIMITS)
    }

    fn identity(&self) -> String {
        self.identity.clone()
    }

    /// One transaction, a savepoint per write (its fence check and its writes), one COMMIT.
    /// A write refused or failing on its own is rolled back to its savepoint and the others go
    /// on; an error that ends the transaction (connection lost, deadlock) or a failed COMMIT
    /// fails every write that had not failed on its own.
    fn write_group(&mut self, group: &[Write<'_>]) -> Vec<Result<()>> {
        let (in_time, sent) = self.rounds.group_in_time(group);
        let results = self.write_group_in_time(&sent);
        self.rounds.with_late_writes(&in_time, results)
    }

    /// One transaction for all: placeholders inserted and rows locked with a few multi-row
    /// statements, each request decided in order, the grants written back with one upsert.
    fn acquire_leases(&mut self, requests: &[(String, LeaseRequest)]) -> Result<Vec<Result<LeaseInfo>>> {
        for (_, request) in requests {
            leases::check_lease_ms(request.lease_ms)?;
        }
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let (pool, ctx) = (&self.pool, &self.ctx);
        self.rounds.run_mapped(async move {
            let mut tx = pool.begin().await.map_err(|e| ctx.err(e))?;
            let outcomes = lease::acquire_all(&mut tx, ctx, requests).await?;
            tx.commit().await.map_err(|e| ctx.err(e))?;
            Ok(outcomes)
        })
    }

    fn renew_leases(&mut self, fences: &[(String, Fence)], lease_ms: u64) -> Result<Vec<Result<LeaseInfo>>> {
        leases::check_lease_ms(lease_ms)?;
        if fences.is_empty() {
            return Ok(Vec::new());
        }
        let (pool, ctx) = (&self.pool, &self.ctx);
        self.rounds.run_mapped(async move {
            let mut tx = pool.begin().await.map_err(|e| ctx.err(e))?;
            let outcomes = lease::renew_all(&mut tx, ctx, fences, lease_ms).await?;
            tx.commit().await.map_err(|e| ctx.err(e))?;
            Ok(outcomes)
        })
    }
}

impl Drop for MysqlStore {
    /// Closes the pool's connections on the store's runtime (the server then ends them at once
    /// instead of when they time out).
    fn drop(&mut self) {
        let pool = self.pool.clone();
        let _ = self.rounds.run_mapped(async move {
            pool.close().await;
            Ok(())
        });
    }
}
