//! The embedded default: one SQLite database file holds any number of sessions.
//!
//! - Durability: WAL journal with `synchronous=FULL`, so a write is on disk before the
//!   call that made it is acknowledged; a key batch is one `IMMEDIATE` transaction.
//! - Group commit ([`Store::write_group`]): the key batches and creds saves queued together
//!   share one `IMMEDIATE` transaction, one `SAVEPOINT` each (its fence check and its writes),
//!   and one commit, so one fsync; a batch that fails is rolled back to its savepoint alone.
//! - Privacy: a new database file is created with mode 0600 (SQLite gives its `-wal` and
//!   `-shm` files the same mode), because it holds private keys.
//! - Versioning: `PRAGMA user_version` is the schema version and `application_id` marks the
//!   file as ours. Migrations (`migrations/NNN_*.sql`) run all in one transaction; a
//!   database from a newer version is refused before anything is written to it.
//! - Last write: `sessions.updated_at` (ms since the epoch) is set exactly by `set_creds`;
//!   key writes refresh it only when it is more than a second old, so that a burst of key
//!   batches rewrites the session row (one more page per commit) at most once a second.
//!
//! Files: `open.rs` (opening, pragmas, file checks), `migrate.rs` (the schema and its
//! upgrades, `migrations/*.sql`), `backup.rs`; this file is the [`Store`] implementation.

mod backup;
mod lease;
mod migrate;
mod open;
#[cfg(test)]
mod test_support;

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, OptionalExtension, TransactionBehavior};

pub use migrate::{APPLICATION_ID, SCHEMA_VERSION};
use open::{files_in_place, Check, Companions, Opened};

use crate::core::error::Result;
use crate::core::error::StoreError;
use crate::core::lease::{self as leases, Fence, HostClock, LeaseInfo, LeaseRequest};
use crate::core::store::{now_millis, KeyInfo, KeyWrite, KindStats, SessionStats, Store, Write};
use lease::LockFiles;

/// Refreshes a session's `updated_at` after a key write, unless it is less than a second old.
const TOUCH_SESSION: &str = "UPDATE sessions SET updated_at = ?2 WHERE id = ?1 AND updated_at < ?2 - 1000";

pub struct SqliteStore {
    conn: rusqlite::Connection,
    /// The `-wal` and `-shm` as they were at open, see [`files_in_place`].
    companions: Companions,
    /// The database file's device and inode (a private id in memory), see [`Store::identity`].
    identity: String,
    /// The sessions' lock files (`lease.rs`).
    locks: LockFiles,
    /// Whether the connection may still be at `synchronous=NORMAL` after a lease write.
    relaxed: bool,
}

impl From<Opened> for SqliteStore {
    fn from(Opened { conn, companions, identity }: Opened) -> Self {
        let locks = LockFiles::new(conn.path(), &identity);
        SqliteStore { conn, companions, identity, locks, relaxed: false }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`. Its directory must exist.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, true)
    }

    /// Opens the database file at `path`; without `create`, a missing file is
    /// [`StoreError::NotFound`](crate::core::error::StoreError::NotFound) and nothing is created
    /// (read-only tools use this).
    pub fn open_with(path: &Path, create: bool) -> Result<Self> {
        open::open_file(path, create).map(Self::from)
    }

    /// A private database in memory, gone when the store closes.
    pub fn open_in_memory() -> Result<Self> {
        open::open_memory().map(Self::from)
    }

    /// Wipes what was deleted from the database's files, not only from its tables: rebuilds the
    /// database (`VACUUM`: no free page keeps an old row) and folds the WAL back into it and
    /// empties it (no old frame keeps one either). Run after a store is encrypted in place, so
    /// that its plain values are gone from the files. Fails if another connection keeps the
    /// WAL from being emptied.
    pub fn scrub(&mut self) -> Result<()> {
        self.durable_again()?;
        self.conn.execute_batch("VACUUM")?;
        let (busy, _, _): (i64, i64, i64) =
            self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        if busy != 0 {
            return Err(StoreError::Unavailable(
                "another connection has the database open, so its WAL file may still hold deleted values: close it and run this again"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Runs `work` in one `IMMEDIATE` transaction after the session's fence check
    /// ([`LockFiles::check_write`]), and commits it; see [`write_tx`].
    fn write<T>(&mut self, session: &str, fence: Option<&Fence>, work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        self.durable_again()?;
        let locks = &self.locks;
        write_tx(&mut self.conn, &self.companions, |tx| {
            locks.check_write(tx, session, fence)?;
            work(tx)
        })
    }

    /// Puts the connection back at `synchronous=FULL` if a lease write left it at `NORMAL`
    /// (see [`without_fsync`]): every data write calls it first.
    fn durable_again(&mut self) -> Result<()> {
        if self.relaxed {
            self.conn.pragma_update(None, "synchronous", "FULL")?;
            self.relaxed = false;
        }
        Ok(())
    }

    /// The writes of [`Store::set_creds`], inside the caller's transaction.
    fn write_creds(tx: &rusqlite::Transaction<'_>, session: &str, creds: &[u8]) -> Result<()> {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO sessions (name, creds, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET creds = excluded.creds, updated_at = excluded.updated_at",
        )?;
        stmt.execute(params![session, creds, now_millis()])?;
        Ok(())
    }

    /// The writes of [`Store::apply`], inside the caller's transaction.
    fn write_keys(tx: &rusqlite::Transaction<'_>, session: &str, writes: &[KeyWrite]) -> Result<()> {
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
    }

    /// The group of [`Store::write_group`] in one `IMMEDIATE` transaction: each write in a
    /// savepoint of its own (its fence check, then its rows), rolled back alone if it fails;
    /// then one commit with the file checks of [`write_tx`]. Returns each write's result, or
    /// the one error that fails them all (the transaction could not begin or commit, the files
    /// moved, or SQLite ended the transaction itself, e.g. on a full disk).
    fn write_group_tx(&mut self, group: &[Write<'_>]) -> Result<Vec<Result<()>>> {
        self.durable_again()?;
        let locks = &self.locks;
        write_tx(&mut self.conn, &self.companions, |tx| {
            let mut results = Vec::with_capacity(group.len());
            for write in group {
                tx.execute_batch("SAVEPOINT batch")?;
                let result = match *write {
                    Write::Creds { session, creds, fence } => {
                        locks.check_write(tx, session, fence).and_then(|()| Self::write_creds(tx, session, creds))
                    }
                    Write::Keys { session, writes, fence } => {
                        locks.check_write(tx, session, fence).and_then(|()| Self::write_keys(tx, session, writes))
                    }
                };
                if tx.is_autocommit() {
                    // SQLite rolled the whole transaction back (it does on some I/O errors):
                    // the writes before this one are gone too.
                    return Err(result.err().unwrap_or_else(|| StoreError::Io("the group's transaction ended early".into())));
                }
                match &result {
                    Ok(()) => tx.execute_batch("RELEASE batch")?,
                    Err(_) => tx.execute_batch("ROLLBACK TO batch; RELEASE batch")?,
                }
                results.push(result);
            }
            Ok(results)
        })
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

/// Runs `work` in one `IMMEDIATE` transaction and commits it, acknowledging the write only if
/// the database's files are still in place ([`files_in_place`]): checked before the commit (a
/// moved database is not written at all) and after it (should they move in the microseconds
/// between, the write may have reached the old files, and is an error). An error anywhere rolls
/// the transaction back.
fn write_tx<T>(
    conn: &mut rusqlite::Connection,
    companions: &Companions,
    work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
) -> Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let result = work(&tx)?;
    files_in_place(&tx, companions, Check::DatabaseFile)?;
    tx.commit()?;
    files_in_place(conn, companions, Check::AllFiles)?;
    Ok(result)
}

/// [`write_tx`] without waiting for the disk (`synchronous=NORMAL` for this one commit; WAL
/// keeps it atomic, and the next durable commit makes it durable too), for lease records only.
/// They need not survive a power cut: after a reboot every lease of the last boot has lapsed,
/// and a fence compares the holder (unique to each acquisition) as well as the epoch, so an
/// epoch given twice across a crash still fences. Without it, a thousand sessions starting
/// would cost a thousand fsyncs, and owning them a hundred fsyncs a second of renewals.
/// `relaxed` records that the connection is not back at `FULL`: every data write restores it
/// first ([`SqliteStore::write`]), or fails, so no data write is acknowledged before it is durable.
fn without_fsync<T>(
    conn: &mut rusqlite::Connection,
    companions: &Companions,
    relaxed: &mut bool,
    work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
) -> Result<T> {
    *relaxed = true;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let result = write_tx(conn, companions, work);
    if conn.pragma_update(None, "synchronous", "FULL").is_ok() {
        *relaxed = false;
    }
    result
}

impl Store for SqliteStore {
    fn get_creds(&mut self, session: &str) -> Result<Option<Vec<u8>>> {
        let mut stmt = self.conn.prepare_cached("SELECT creds FROM sessions WHERE name = ?1")?;
        let creds: Option<Option<Vec<u8>>> = stmt.query_row([session], |r| r.get(0)).optional()?;
        Ok(creds.flatten())
    }

    fn set_creds(&mut self, session: &str, creds: &[u8], fence: Option<&Fence>) -> Result<()> {
        self.write(session, fence, |tx| Self::write_creds(tx, session, creds))
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

    fn apply(&mut self, session: &str, writes: &[KeyWrite], fence: Option<&Fence>) -> Result<()> {
        // One transaction: an error anywhere writes nothing.
        self.write(session, fence, |tx| Self::write_keys(tx, session, writes))
    }

    fn clear_keys(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        // One transaction, so that the keys and the session's time are one commit.
        self.write(session, fence, |tx| {
            let id: Option<i64> =
                tx.prepare_cached("SELECT id FROM sessions WHERE name = ?1")?.query_row([session], |r| r.get(0)).optional()?;
            if let Some(id) = id {
                tx.prepare_cached("DELETE FROM keys WHERE session_id = ?1")?.execute([id])?;
                tx.prepare_cached(TOUCH_SESSION)?.execute(params![id, now_millis()])?;
            }
            Ok(())
        })
    }

    fn delete_session(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        self.write(session, fence, |tx| {
            tx.prepare_cached("DELETE FROM sessions WHERE name = ?1")?.execute([session])?;
            Ok(())
        })
    }

    fn acquire_lease(&mut self, session: &str, request: &LeaseRequest) -> Result<LeaseInfo> {
        let mut granted = self.acquire_leases(&[(session.to_owned(), request.clone())])?;
        granted.pop().expect("one outcome per request")
    }

    fn renew_lease(&mut self, session: &str, fence: &Fence, lease_ms: u64) -> Result<LeaseInfo> {
        let mut renewed = self.renew_leases(&[(session.to_owned(), fence.clone())], lease_ms)?;
        renewed.pop().expect("one outcome per lease")
    }

    /// All in one transaction without fsync (see [`without_fsync`]); a session refused does not
    /// fail the others, a store error fails them all (and gives back the locks taken for them).
    fn acquire_leases(&mut self, requests: &[(String, LeaseRequest)]) -> Result<Vec<Result<LeaseInfo>>> {
        for (_, request) in requests {
            leases::check_lease_ms(request.lease_ms)?;
        }
        let locks = &self.locks;
        let mut took = Vec::new();
        let granted = without_fsync(&mut self.conn, &self.companions, &mut self.relaxed, |tx| {
            let now = HostClock::now();
            let mut outcomes = Vec::with_capacity(requests.len());
            for (session, request) in requests {
                let previous = lease::read(tx, session)?;
                let died = || previous.as_ref().is_some_and(|r| locks.holder_died(r, session));
                if let Err(refused) = leases::decide(session, previous.as_ref(), request, &now, died) {
                    outcomes.push(Err(refused));
                    continue;
                }
                let (holds, took_now) = locks.take(session);
                if took_now {
                    took.push(session.as_str());
                }
                let record = leases::grant(previous.as_ref(), request, &now, holds);
                lease::write(tx, session, &record)?;
                outcomes.push(Ok(record.info(true)));
            }
            Ok(outcomes)
        });
        if granted.is_err() {
            for session in took {
                self.locks.give_back(session);
            }
        }
        granted
    }

    /// All in one transaction without fsync; a fenced lease does not fail the others.
    fn renew_leases(&mut self, renewals: &[(String, Fence)], lease_ms: u64) -> Result<Vec<Result<LeaseInfo>>> {
        leases::check_lease_ms(lease_ms)?;
        let locks = &self.locks;
        without_fsync(&mut self.conn, &self.companions, &mut self.relaxed, |tx| {
            let now = HostClock::now();
            let mut outcomes = Vec::with_capacity(renewals.len());
            for (session, fence) in renewals {
                let record = match lease::read(tx, session)? {
                    Some(record) if record.holder == fence.holder && record.epoch == fence.epoch => record,
                    other => {
                        locks.fenced(other.as_ref(), session);
                        outcomes.push(Err(leases::fenced(session, fence, other.as_ref().map(|r| (r.holder.as_str(), r.epoch, &r.owner)))));
                        continue;
                    }
                };
                let mut next = leases::renewed(&record, lease_ms, &now);
                // A lease taken while a stopped process still held the lock file picks it up now.
                if next.kernel_lock == leases::KernelLock::None {
                    next.kernel_lock = locks.take(session).0;
                }
                lease::write(tx, session, &next)?;
                outcomes.push(Ok(next.info(true)));
            }
            Ok(outcomes)
        })
    }

    fn release_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        let locks = &self.locks;
        without_fsync(&mut self.conn, &self.companions, &mut self.relaxed, |tx| {
            let record = lease::read(tx, session)?;
            match record {
                Some(mut record) if record.holder == fence.holder && record.epoch == fence.epoch => {
                    record.holder.clear();
                    record.kernel_lock = leases::KernelLock::None;
                    lease::write(tx, session, &record)?;
                    // Inside the transaction, while it holds the database's write lock: given back
                    // after the commit, another store of this file in this process could take the
                    // session in between, find the lock still "held by this process", and record a
                    // kernel lock that the give-back then drops (other processes would judge that
                    // live owner dead).
                    locks.give_back(session);
                    Ok(())
                }
                other => {
                    locks.fenced(other.as_ref(), session);
                    Ok(())
                }
            }
        })
    }

    /// Reads only, and never touches a lock file: `live` is by time here. Asking a lock file
    /// whether its holder died means taking it for an instant, which outside a write
    /// transaction could make another process's acquisition, at that very instant, think the
    /// holder alive. So a holder that died shows as live until the next owner takes the session
    /// (at once) or its lease lapses.
    /// One `DELETE` that names the fence, without fsync like every lease record (see
    /// [`without_fsync`]); the lock file goes back with the lease.
    fn forget_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        let locks = &self.locks;
        without_fsync(&mut self.conn, &self.companions, &mut self.relaxed, |tx| {
            let deleted = tx
                .prepare_cached("DELETE FROM leases WHERE session = ?1 AND holder <> '' AND holder = ?2 AND epoch = ?3")?
                .execute(params![session, fence.holder, fence.epoch as i64])?;
            if deleted > 0 {
                locks.give_back(session);
            }
            Ok(())
        })
    }

    fn lease(&mut self, session: &str) -> Result<Option<LeaseInfo>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let record = lease::read(&tx, session)?;
        tx.commit()?;
        let now = HostClock::now();
        Ok(record.map(|r| r.info(leases::is_live(&r, &now, || false))))
    }

    fn leases(&mut self) -> Result<Vec<(String, LeaseInfo)>> {
        let now = HostClock::now();
        let records = lease::read_all(&self.conn)?;
        Ok(records.into_iter().map(|(session, r)| (session, r.info(leases::is_live(&r, &now, || false)))).collect())
    }

    fn meta(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        let mut stmt = self.conn.prepare_cached("SELECT value FROM store_records WHERE name = ?1")?;
        Ok(stmt.query_row([name], |r| r.get(0)).optional()?)
    }

    fn swap_meta(&mut self, name: &str, expected: Option<&[u8]>, value: Option<&[u8]>) -> Result<bool> {
        self.durable_again()?;
        write_tx(&mut self.conn, &self.companions, |tx| {
            let now: Option<Vec<u8>> =
                tx.prepare_cached("SELECT value FROM store_records WHERE name = ?1")?.query_row([name], |r| r.get(0)).optional()?;
            if now.as_deref() != expected {
                return Ok(false);
            }
            match value {
                Some(value) => tx
                    .prepare_cached("INSERT OR REPLACE INTO store_records (name, value) VALUES (?1, ?2)")?
                    .execute(params![name, value])?,
                None => tx.prepare_cached("DELETE FROM store_records WHERE name = ?1")?.execute([name])?,
            };
            Ok(true)
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

    /// See `backup.rs`.
    fn backup(&mut self, dest: &Path) -> Result<()> {
        backup::backup(&self.conn, dest)
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

    /// One transaction and one commit for the whole group; see [`SqliteStore::write_group_tx`].
    /// A lone write takes the plain path (no savepoint); no write, no transaction.
    fn write_group(&mut self, group: &[Write<'_>]) -> Vec<Result<()>> {
        match group {
            [] => return Vec::new(),
            [write] => return vec![write.apply_to(self)],
            _ => {}
        }
        match self.write_group_tx(group) {
            Ok(results) => results,
            Err(err) => group.iter().map(|_| Err(err.clone())).collect(),
        }
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
    use crate::core::sqlite::test_support::{put, temp_path};

    #[test]
    fn reopening_keeps_data_and_schema() {
        let path = temp_path("reopen");
        let mut store = SqliteStore::open(&path).unwrap();
        store.apply("s", &[KeyWrite { kind: "pre-key".into(), id: "1".into(), value: Some(vec![1, 9]) }], None).unwrap();
        drop(store);
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.get_keys("s", "pre-key", &["1".into()]).unwrap(), vec![Some(vec![1, 9])]);
    }

    #[test]
    fn lease_writes_skip_the_fsync_and_data_writes_wait_for_it_again() {
        use crate::core::lease::{Claim, LeaseRequest};
        let path = temp_path("lease-sync");
        let mut store = SqliteStore::open(&path).unwrap();
        let synchronous = |store: &SqliteStore| store.conn.pragma_query_value(None, "synchronous", |r| r.get::<_, i64>(0)).unwrap();
        let lease = store.acquire_lease("s", &LeaseRequest::new(30_000, Claim::Refuse, "h")).unwrap();
        assert_eq!(synchronous(&store), 2, "FULL again after the acquisition");
        store.renew_lease("s", &lease.fence(), 30_000).unwrap();
        assert_eq!(synchronous(&store), 2);
        // Were FULL not restored, the next data write restores it before it commits.
        store.relaxed = true;
        store.conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        store.apply("s", &[put("t", "1", b"v")], Some(&lease.fence())).unwrap();
        assert_eq!((synchronous(&store), store.relaxed), (2, false));
        store.release_lease("s", &lease.fence()).unwrap();
        assert!(path.with_extension("db.leases").is_dir(), "the lock files live beside the database");
    }

    /// A trigger that fails any key write of id `poison`: with `ABORT` SQLite fails the
    /// statement only, with `ROLLBACK` it ends the whole transaction.
    fn poison(store: &SqliteStore, how: &str) {
        let sql =
            format!("CREATE TEMP TRIGGER poison BEFORE INSERT ON keys WHEN NEW.id = 'poison' BEGIN SELECT RAISE({how}, 'poisoned'); END");
        store.conn.execute_batch(&sql).unwrap();
    }

    #[test]
    fn a_write_failing_halfway_in_a_group_is_rolled_back_alone_and_the_others_commit() {
        let path = temp_path("group-halfway");
        let mut store = SqliteStore::open(&path).unwrap();
        poison(&store, "ABORT");
        let first = [put("t", "a", b"1")];
        // Its first row is written before its second fails: the savepoint takes it back.
        let torn = [put("t", "b", b"2"), put("t", "poison", b"x")];
        let last = [put("t", "c", b"3")];
        let results = store.write_group(&[
            Write::Keys { session: "s", writes: &first, fence: None },
            Write::Keys { session: "s", writes: &torn, fence: None },
            Write::Creds { session: "s", creds: b"creds", fence: None },
            Write::Keys { session: "s", writes: &last, fence: None },
        ]);
        assert!(results[1].as_ref().unwrap_err().to_string().contains("poisoned"), "{results:?}");
        assert_eq!(results.iter().map(Result::is_ok).collect::<Vec<_>>(), [true, false, true, true]);
        drop(store);
        let mut store = SqliteStore::open(&path).unwrap();
        let ids: Vec<String> = ["a", "b", "c"].map(String::from).into();
        assert_eq!(store.get_keys("s", "t", &ids).unwrap(), vec![Some(b"1".to_vec()), None, Some(b"3".to_vec())]);
        assert_eq!(store.get_creds("s").unwrap(), Some(b"creds".to_vec()));
    }

    #[test]
    fn a_group_whose_transaction_sqlite_ends_fails_whole_and_writes_nothing() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        poison(&store, "ROLLBACK");
        let before = [put("t", "a", b"1")];
        let bad = [put("t", "poison", b"x")];
        let results = store.write_group(&[
            Write::Keys { session: "s", writes: &before, fence: None },
            Write::Keys { session: "s", writes: &bad, fence: None },
            Write::Creds { session: "s", creds: b"creds", fence: None },
        ]);
        assert!(results.iter().all(|r| r.as_ref().is_err_and(|e| e.to_string().contains("poisoned"))), "{results:?}");
        assert_eq!(store.sessions().unwrap(), Vec::<String>::new(), "the write before it is gone too, so it is not acknowledged");
        // The connection is usable again afterwards.
        store.apply("s", &before, None).unwrap();
    }

    #[test]
    fn a_group_after_a_lease_write_commits_at_synchronous_full() {
        use crate::core::lease::{Claim, LeaseRequest};
        let mut store = SqliteStore::open(&temp_path("group-sync")).unwrap();
        let lease = store.acquire_lease("s", &LeaseRequest::new(30_000, Claim::Refuse, "h")).unwrap();
        store.relaxed = true;
        store.conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        let writes = [put("t", "1", b"v")];
        let fence = lease.fence();
        let results = store.write_group(&[
            Write::Keys { session: "s", writes: &writes, fence: Some(&fence) },
            Write::Creds { session: "s", creds: b"c", fence: Some(&fence) },
        ]);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let synchronous = store.conn.pragma_query_value(None, "synchronous", |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!((synchronous, store.relaxed), (2, false));
    }

    #[test]
    fn key_writes_refresh_the_session_time_at_most_once_a_second() {
        let mut store = SqliteStore::open_in_memory().unwrap();
        store.set_creds("s", b"c", None).unwrap();
        let time = |store: &mut SqliteStore| store.stats("s").unwrap().updated_at_ms.unwrap();
        store.conn.execute("UPDATE sessions SET updated_at = updated_at - 500", []).unwrap();
        let recent = time(&mut store);
        store.apply("s", &[put("t", "1", b"v")], None).unwrap();
        assert_eq!(time(&mut store), recent, "less than a second old: left alone");
        store.conn.execute("UPDATE sessions SET updated_at = updated_at - 1000", []).unwrap();
        let old = time(&mut store);
        store.apply("s", &[put("t", "1", b"w")], None).unwrap();
        assert!(time(&mut store) >= old + 1000);
    }
}
