//! The writes, each run inside a transaction the caller opened (one per call, or one for a
//! whole group with a savepoint per write).
//!
//! Every write first locks the session's lease row, then checks the fence against it, then
//! writes. Locking the row is what serializes a write with an acquisition: an acquisition
//! updates that row under the same lock, so it lands either before the check (and the write
//! sees it) or after the commit. A session never leased has no row to lock, and a plain
//! `SELECT … FOR UPDATE` of an absent row locks nothing at `READ COMMITTED` (no gap locks): an
//! acquisition could insert the row between the check and the commit. So a write that finds
//! no row inserts a placeholder (epoch 0, holder `''`: "never leased", which `lease`/`leases`
//! never report) with `INSERT … ON DUPLICATE KEY UPDATE epoch = epoch`, which takes the row's
//! exclusive lock whether it inserts it or finds it (an acquisition got there first); then
//! reads it again `FOR UPDATE` (a locking read sees the latest committed version), with the
//! server's time. Every later write of the session finds the row at once.
//!
//! Round trips of a key batch, whatever its size: `BEGIN`, the lease row (1; 3 on the session's
//! first write), the multi-row `DELETE` and the multi-row upsert (one each, more only past the
//! chunk limits), the session row (1), `COMMIT`; one more to end a lapsed lease.

use std::collections::BTreeMap;

use super::tables::{check_session, groups, padded, q, Ctx, StoredLease, LEASE_COLUMNS};
use crate::core::error::Result;
use crate::core::lease::{self, Fence};
use crate::core::store::{now_millis, KeyWrite};
use sqlx::mysql::MySqlConnection;

/// Keys per multi-row `DELETE` (two placeholders each, far under the 65,535 limit).
const DELETE_CHUNK: usize = 2048;
/// Rows per multi-row upsert (four placeholders each); fewer when the values are large.
const UPSERT_CHUNK: usize = 4096;

/// One write of the store's (what a transaction runs).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op<'a> {
    Creds { session: &'a str, creds: &'a [u8] },
    Keys { session: &'a str, writes: &'a [KeyWrite] },
    Clear { session: &'a str },
    Delete { session: &'a str },
}

impl Op<'_> {
    pub fn session(&self) -> &str {
        match *self {
            Op::Creds { session, .. } | Op::Keys { session, .. } | Op::Clear { session } | Op::Delete { session } => session,
        }
    }

    /// Refuses what the tables cannot hold, before anything is sent.
    pub fn check(&self, ctx: &Ctx) -> Result<()> {
        check_session(self.session())?;
        match *self {
            Op::Creds { creds, .. } => ctx.check_value("the creds", creds.len() + self.session().len()),
            Op::Keys { writes, .. } => {
                for write in writes {
                    crate::core::sql::check_key_names("MySQL", &write.kind, &write.id)?;
                    if let Some(value) = &write.value {
                        ctx.check_value("a key value", row_bytes(self.session(), write.kind.as_str(), write.id.as_str(), value))?;
                    }
                }
                Ok(())
            }
            Op::Clear { .. } | Op::Delete { .. } => Ok(()),
        }
    }
}

/// The bytes one upserted row adds to a statement (its values and a little framing).
fn row_bytes(session: &str, kind: &str, id: &str, value: &[u8]) -> usize {
    session.len() + kind.len() + id.len() + value.len() + 32
}

/// Locks the session's lease row (inserting the placeholder if it has none) and reads it: one
/// round trip for a session that has a row (every session after its first write), three for
/// its first write. A locking read of an absent row locks nothing at `READ COMMITTED`, so
/// when the row is missing the placeholder is inserted (`ON DUPLICATE KEY UPDATE epoch = epoch`
/// takes the row's exclusive lock whether it inserts it or an acquisition just did) and read again.
pub(crate) async fn lock_lease(conn: &mut MySqlConnection, ctx: &Ctx, session: &str) -> Result<StoredLease> {
    let select = format!("SELECT {LEASE_COLUMNS} FROM {} WHERE session = ? FOR UPDATE", ctx.t.leases);
    let row = q(select.clone()).bind(session.as_bytes()).fetch_optional(&mut *conn).await.map_err(|e| ctx.err(e))?;
    if let Some(row) = row {
        return StoredLease::read(&row, 0, ctx);
    }
    let insert = format!(
        "INSERT INTO {} (session, epoch, holder, process, host, pid, acquired_at, expires_at) VALUES (?, 0, '', '', '', 0, 0, 0) \
         ON DUPLICATE KEY UPDATE epoch = epoch",
        ctx.t.leases
    );
    q(insert).bind(session.as_bytes()).execute(&mut *conn).await.map_err(|e| ctx.err(e))?;
    let row = q(select).bind(session.as_bytes()).fetch_one(&mut *conn).await.map_err(|e| ctx.err(e))?;
    StoredLease::read(&row, 0, ctx)
}

/// The fence check of every write, on the locked lease row (the rules of `lease::check_write`
/// and Redis' `refuse_write`); an unfenced write that may go on ends a lapsed lease (expired,
/// not released), so that its holder, should it wake, cannot write on with its fence.
async fn check_fence(conn: &mut MySqlConnection, ctx: &Ctx, session: &str, fence: Option<&Fence>) -> Result<()> {
    let stored = lock_lease(conn, ctx, session).await?;
    lease::check_write(session, stored.stored(), stored.live(), fence)?;
    if fence.is_none() && !stored.holder.is_empty() {
        let sql = format!("UPDATE {} SET holder = '' WHERE session = ?", ctx.t.leases);
        q(sql).bind(session.as_bytes()).execute(&mut *conn).await.map_err(|e| ctx.err(e))?;
    }
    Ok(())
}

/// Runs `op` (checked by [`Op::check`]) on the transaction's connection: fence check, then its writes.
pub(crate) async fn write(conn: &mut MySqlConnection, ctx: &Ctx, op: Op<'_>, fence: Option<&Fence>) -> Result<()> {
    let session = op.session();
    check_fence(conn, ctx, session, fence).await?;
    let t = &ctx.t;
    let now = now_millis();
    match op {
        Op::Creds { creds, .. } => {
            let sql = format!(
                "INSERT INTO {} (session, creds, updated_at) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE creds = VALUES(creds), updated_at = VALUES(updated_at)",
                t.sessions
            );
            q(sql).bind(session.as_bytes()).bind(creds).bind(now).execute(&mut *conn).await.map_err(|e| ctx.err(e))?;
        }
        Op::Keys { writes, .. } => {
            // The last write of a (type, id) wins: one entry per key, then each statement
            // touches distinct keys, and the order between them no longer matters.
            let mut last: BTreeMap<(&str, &str), Option<&[u8]>> = BTreeMap::new();
            for w in writes {
                last.insert((w.kind.as_str(), w.id.as_str()), w.value.as_deref());
            }
            let deletes: Vec<(&str, &str)> = last.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| *k).collect();
            let puts: Vec<(&str, &str, &[u8])> = last.iter().filter_map(|(&(kind, id), v)| v.map(|v| (kind, id, v))).collect();
            let mut deleted = 0;
            for chunk in deletes.chunks(DELETE_CHUNK) {
                let n = padded(chunk.len(), DELETE_CHUNK);
                let sql = format!("DELETE FROM {} WHERE session = ? AND (type, id) IN ({})", t.keys, groups("(?, ?)", n));
                let mut query = q(sql).bind(session.as_bytes());
                for i in 0..n {
                    let (kind, id) = chunk[i.min(chunk.len() - 1)];
                    query = query.bind(kind.as_bytes()).bind(id.as_bytes());
                }
                deleted += query.execute(&mut *conn).await.map_err(|e| ctx.err(e))?.rows_affected();
            }
            for chunk in upsert_chunks(session, &puts, ctx.statement_budget()) {
                let sql = format!(
                    "INSERT INTO {} (session, type, id, value) VALUES {} ON DUPLICATE KEY UPDATE value = VALUES(value)",
                    t.keys,
                    groups("(?, ?, ?, ?)", chunk.len())
                );
                let mut query = q(sql);
                for &(kind, id, value) in chunk {
                    query = query.bind(session.as_bytes()).bind(kind.as_bytes()).bind(id.as_bytes()).bind(value);
                }
                query.execute(&mut *conn).await.map_err(|e| ctx.err(e))?;
            }
            if !puts.is_empty() {
                let sql = format!(
                    "INSERT INTO {} (session, creds, updated_at) VALUES (?, NULL, ?) ON DUPLICATE KEY UPDATE updated_at = VALUES(updated_at)",
                    t.sessions
                );
                q(sql).bind(session.as_bytes()).bind(now).execute(&mut *conn).await.map_err(|e| ctx.err(e))?;
            } else if deleted > 0 {
                touch(conn, ctx, session, now).await?;
            }
        }
        Op::Clear { .. } => {
            let sql = format!("DELETE FROM {} WHERE session = ?", t.keys);
            let deleted = q(sql).bind(session.as_bytes()).execute(&mut *conn).await.map_err(|e| ctx.err(e))?.rows_affected();
            if deleted > 0 {
                touch(conn, ctx, session, now).await?;
            }
        }
        Op::Delete { .. } => {
            for table in [&t.keys, &t.sessions] {
                let sql = format!("DELETE FROM {table} WHERE session = ?");
                q(sql).bind(session.as_bytes()).execute(&mut *conn).await.map_err(|e| ctx.err(e))?;
            }
        }
    }
    Ok(())
}

/// Records a write that changed the session's keys without adding one.
async fn touch(conn: &mut MySqlConnection, ctx: &Ctx, session: &str, now: i64) -> Result<()> {
    let sql = format!("UPDATE {} SET updated_at = ? WHERE session = ?", ctx.t.sessions);
    q(sql).bind(now).bind(session.as_bytes()).execute(&mut *conn).await.map_err(|e| ctx.err(e))?;
    Ok(())
}

/// The upserts in statements of at most [`UPSERT_CHUNK`] rows and `budget` bytes (a row larger
/// than the budget goes alone: [`Op::check`] made sure it fits the server's packet).
fn upsert_chunks<'a, 'b>(
    session: &str,
    puts: &'b [(&'a str, &'a str, &'a [u8])],
    budget: usize,
) -> Vec<&'b [(&'a str, &'a str, &'a [u8])]> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, &(kind, id, value)) in puts.iter().enumerate() {
        let row = row_bytes(session, kind, id, value);
        if i > start && (i - start == UPSERT_CHUNK || bytes + row > budget) {
            chunks.push(&puts[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += row;
    }
    if start < puts.len() {
        chunks.push(&puts[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upserts_are_chunked_by_rows_and_bytes() {
        let value = vec![0u8; 100];
        let puts: Vec<(&str, &str, &[u8])> = (0..10).map(|_| ("t", "i", value.as_slice())).collect();
        let sizes = |budget| upsert_chunks("s", &puts, budget).iter().map(|c| c.len()).collect::<Vec<_>>();
        assert_eq!(sizes(1 << 20), vec![10]);
        assert_eq!(sizes(300), vec![2, 2, 2, 2, 2]);
        assert_eq!(sizes(10), vec![1; 10], "a row larger than the budget goes alone");
        let many: Vec<(&str, &str, &[u8])> = (0..UPSERT_CHUNK + 1).map(|_| ("t", "i", &[][..])).collect();
        assert_eq!(upsert_chunks("s", &many, usize::MAX).iter().map(|c| c.len()).collect::<Vec<_>>(), vec![UPSERT_CHUNK, 1]);
        assert!(upsert_chunks("s", &[], 100).is_empty());
    }
}
