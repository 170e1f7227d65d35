//! Leases (`docs/ownership.md`), with the rules of Redis' `acquire.lua`, `renew.lua` and
//! `release.lua`, by the server's clock: every decision is taken in Rust on lease rows locked
//! `FOR UPDATE` (see `write.rs` for why an absent row gets a placeholder first), and written
//! back in the same transaction. Batches lock all their rows with a few multi-row statements,
//! decide each session in order, and write back every changed row with one multi-row upsert.

use std::collections::BTreeMap;

use sqlx::mysql::MySqlConnection;

use super::tables::{check_name, check_session, groups, q, Ctx, StoredLease, LEASE_COLUMNS, MAX_LEASE_FIELD_BYTES};
use crate::core::error::{Result, StoreError};
use crate::core::lease::{self, Claim, Fence, LeaseInfo, LeaseOwner, LeaseRequest};

/// Sessions per multi-row lock or write-back statement.
const LEASE_CHUNK: usize = 1000;

/// Refuses a request the lease table cannot hold.
/// The statement of [`Store::forget_lease`](crate::core::store::Store::forget_lease) (binds:
/// session, holder, epoch): the lease row goes only if the fence still names it.
pub(crate) fn forget_sql(leases: &str) -> String {
    format!("DELETE FROM {leases} WHERE session = ? AND holder <> '' AND holder = ? AND epoch = ?")
}

pub(crate) fn check_request(session: &str, request: &LeaseRequest) -> Result<()> {
    check_session(session)?;
    if request.holder.is_empty() {
        return Err(StoreError::invalid("a lease's holder must not be empty"));
    }
    check_name("lease holder", &request.holder, MAX_LEASE_FIELD_BYTES)?;
    check_name("process token", &request.process, MAX_LEASE_FIELD_BYTES)?;
    check_name("host name", &request.host, MAX_LEASE_FIELD_BYTES)
}

/// What `request` makes of the lease `stored` (the rule of `lease::decide`): a live lease is
/// refused unless the claim is a takeover, or the same process's; each grant is one epoch up.
pub(crate) fn grant(session: &str, stored: &StoredLease, request: &LeaseRequest) -> Result<StoredLease> {
    if stored.live() {
        let ours = stored.process == request.process;
        match request.claim {
            Claim::Takeover => {}
            Claim::SameProcess if ours => {}
            _ => return Err(StoreError::SessionLocked { session: session.to_owned(), owner: stored.owner.clone() }),
        }
    }
    Ok(StoredLease {
        holder: request.holder.clone(),
        process: request.process.clone(),
        epoch: stored.epoch + 1,
        owner: LeaseOwner {
            host: request.host.clone(),
            pid: request.pid,
            acquired_at_ms: stored.now,
            expires_at_ms: stored.now.saturating_add(request.lease_ms as i64),
        },
        now: stored.now,
    })
}

/// The lease `stored` renewed under `fence` for `lease_ms` from now, or `ERR_SESSION_FENCED`
/// if it names another holder or epoch (taken over, released).
pub(crate) fn renewal(session: &str, stored: Option<&StoredLease>, fence: &Fence, lease_ms: u64) -> Result<StoredLease> {
    match stored {
        Some(l) if !l.holder.is_empty() && l.holder == fence.holder && l.epoch == fence.epoch => {
            let mut next = l.clone();
            next.owner.expires_at_ms = l.now.saturating_add(lease_ms as i64);
            Ok(next)
        }
        _ => Err(lease::fenced(session, fence, stored.and_then(StoredLease::stored))),
    }
}

/// Locks the lease rows of `sessions` (sorted, distinct) and reads them; with `placeholders`,
/// inserts those missing first (an acquisition must serialize with an unfenced write of a
/// session never leased). Rows are locked in key order, as every writer locks them.
pub(crate) async fn lock_leases(
    conn: &mut MySqlConnection,
    ctx: &Ctx,
    sessions: &[&str],
    placeholders: bool,
) -> Result<BTreeMap<String, StoredLease>> {
    let mut out = BTreeMap::new();
    for chunk in sessions.chunks(LEASE_CHUNK) {
        if placeholders {
            let sql = format!(
                "INSERT INTO {} (session, epoch, holder, process, host, pid, acquired_at, expires_at) VALUES {} \
                 ON DUPLICATE KEY UPDATE epoch = epoch",
                ctx.t.leases,
                groups("(?, 0, '', '', '', 0, 0, 0)", chunk.len())
            );
            let mut query = q(sql);
            for session in chunk {
                query = query.bind(session.as_bytes());
            }
            query.execute(&mut *conn).await.map_err(|e| ctx.err(e))?;
        }
        let sql = format!(
            "SELECT session, {LEASE_COLUMNS} FROM {} WHERE session IN ({}) ORDER BY session FOR UPDATE",
            ctx.t.leases,
            groups("?", chunk.len())
        );
        let mut query = q(sql);
        for session in chunk {
            query = query.bind(session.as_bytes());
        }
        for row in query.fetch_all(&mut *conn).await.map_err(|e| ctx.err(e))? {
            let session = super::tables::text(sqlx::Row::try_get::<Vec<u8>, _>(&row, 0).map_err(|e| ctx.err(e))?, "session id")?;
            out.insert(session, StoredLease::read(&row, 1, ctx)?);
        }
    }
    Ok(out)
}

/// Writes the leases back (rows locked by [`lock_leases`]), a multi-row upsert per chunk.
pub(crate) async fn write_leases(conn: &mut MySqlConnection, ctx: &Ctx, leases: &[(&str, &StoredLease)]) -> Result<()> {
    for chunk in leases.chunks(LEASE_CHUNK) {
        let sql = format!(
            "INSERT INTO {} (session, epoch, holder, process, host, pid, acquired_at, expires_at) VALUES {} \
             ON DUPLICATE KEY UPDATE epoch = VALUES(epoch), holder = VALUES(holder), process = VALUES(process), host = VALUES(host), \
             pid = VALUES(pid), acquired_at = VALUES(acquired_at), expires_at = VALUES(expires_at)",
            ctx.t.leases,
            groups("(?, ?, ?, ?, ?, ?, ?, ?)", chunk.len())
        );
        let mut query = q(sql);
        for (session, l) in chunk {
            query = query
                .bind(session.as_bytes())
                .bind(l.epoch as i64)
                .bind(l.holder.as_bytes())
                .bind(l.process.as_bytes())
                .bind(l.owner.host.as_bytes())
                .bind(i64::from(l.owner.pid))
                .bind(l.owner.acquired_at_ms)
                .bind(l.owner.expires_at_ms);
        }
        query.execute(&mut *conn).await.map_err(|e| ctx.err(e))?;
    }
    Ok(())
}

/// Acquires several sessions' leases in the caller's transaction, each request in order (a
/// session asked twice sees its first grant), each with its own outcome.
pub(crate) async fn acquire_all(
    conn: &mut MySqlConnection,
    ctx: &Ctx,
    requests: &[(String, LeaseRequest)],
) -> Result<Vec<Result<LeaseInfo>>> {
    let checked: Vec<Result<()>> = requests.iter().map(|(session, request)| check_request(session, request)).collect();
    let mut sessions: Vec<&str> =
        requests.iter().zip(&checked).filter(|(_, ok)| ok.is_ok()).map(|((session, _), _)| session.as_str()).collect();
    sessions.sort_unstable();
    sessions.dedup();
    let mut state = lock_leases(conn, ctx, &sessions, true).await?;
    let mut changed: BTreeMap<&str, ()> = BTreeMap::new();
    let mut outcomes = Vec::with_capacity(requests.len());
    for ((session, request), ok) in requests.iter().zip(checked) {
        if let Err(err) = ok {
            outcomes.push(Err(err));
            continue;
        }
        let Some(stored) = state.get(session) else {
            outcomes.push(Err(StoreError::Io(format!("MySQL: the lease row of session {session:?} vanished while locked"))));
            continue;
        };
        match grant(session, stored, request) {
            Ok(next) => {
                outcomes.push(Ok(next.info()));
                state.insert(session.clone(), next);
                changed.insert(session.as_str(), ());
            }
            Err(err) => outcomes.push(Err(err)),
        }
    }
    let rows: Vec<(&str, &StoredLease)> = changed.keys().filter_map(|s| state.get(*s).map(|l| (*s, l))).collect();
    write_leases(conn, ctx, &rows).await?;
    Ok(outcomes)
}

/// Renews several leases in the caller's transaction, each with its own outcome.
pub(crate) async fn renew_all(
    conn: &mut MySqlConnection,
    ctx: &Ctx,
    leases: &[(String, Fence)],
    lease_ms: u64,
) -> Result<Vec<Result<LeaseInfo>>> {
    let mut sessions: Vec<&str> = leases.iter().map(|(s, _)| s.as_str()).filter(|s| check_session(s).is_ok()).collect();
    sessions.sort_unstable();
    sessions.dedup();
    let mut state = lock_leases(conn, ctx, &sessions, false).await?;
    let mut changed: BTreeMap<&str, ()> = BTreeMap::new();
    let mut outcomes = Vec::with_capacity(leases.len());
    for (session, fence) in leases {
        if let Err(err) = check_session(session) {
            outcomes.push(Err(err));
            continue;
        }
        match renewal(session, state.get(session), fence, lease_ms) {
            Ok(next) => {
                outcomes.push(Ok(next.info()));
                state.insert(session.clone(), next);
                changed.insert(session.as_str(), ());
            }
            Err(err) => outcomes.push(Err(err)),
        }
    }
    let rows: Vec<(&str, &StoredLease)> = changed.keys().filter_map(|s| state.get(*s).map(|l| (*s, l))).collect();
    write_leases(conn, ctx, &rows).await?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(holder: &str, process: &str, epoch: u64, expires: i64, now: i64) -> StoredLease {
        StoredLease {
            holder: holder.into(),
            process: process.into(),
            epoch,
            owner: LeaseOwner { host: "h".into(), pid: 1, acquired_at_ms: 0, expires_at_ms: expires },
            now,
        }
    }

    fn request(claim: Claim, process: &str) -> LeaseRequest {
        LeaseRequest { holder: format!("{process}-new"), process: process.into(), host: "me".into(), pid: 9, lease_ms: 30_000, claim }
    }

    #[test]
    fn grants_follow_the_lease_rules_by_the_servers_clock() {
        let free = StoredLease::placeholder(1_000);
        let granted = grant("s", &free, &request(Claim::Refuse, "p1")).unwrap();
        assert_eq!((granted.epoch, granted.owner.acquired_at_ms, granted.owner.expires_at_ms), (1, 1_000, 31_000));
        assert!(granted.live());
        let held = stored("p1-h", "p1", 4, 2_000, 1_000);
        assert_eq!(grant("s", &held, &request(Claim::Refuse, "p1")).unwrap_err().code(), "ERR_SESSION_LOCKED");
        assert_eq!(grant("s", &held, &request(Claim::SameProcess, "p2")).unwrap_err().code(), "ERR_SESSION_LOCKED");
        assert_eq!(grant("s", &held, &request(Claim::SameProcess, "p1")).unwrap().epoch, 5);
        assert_eq!(grant("s", &held, &request(Claim::Takeover, "p2")).unwrap().epoch, 5);
        let expired = stored("p1-h", "p1", 4, 1_000, 1_000);
        assert_eq!(grant("s", &expired, &request(Claim::Refuse, "p2")).unwrap().epoch, 5);
        let released = stored("", "p1", 4, 9_000, 1_000);
        assert_eq!(grant("s", &released, &request(Claim::Refuse, "p2")).unwrap().epoch, 5);
    }

    #[test]
    fn renewals_need_the_matching_fence_even_when_expired() {
        let fence = Fence { holder: "p1-h".into(), epoch: 4 };
        let expired = stored("p1-h", "p1", 4, 500, 1_000);
        assert_eq!(renewal("s", Some(&expired), &fence, 10_000).unwrap().owner.expires_at_ms, 11_000);
        let other = stored("p2-h", "p2", 5, 9_000, 1_000);
        assert_eq!(renewal("s", Some(&other), &fence, 10_000).unwrap_err().code(), "ERR_SESSION_FENCED");
        let released = stored("", "p1", 4, 9_000, 1_000);
        assert_eq!(renewal("s", Some(&released), &fence, 10_000).unwrap_err().code(), "ERR_SESSION_FENCED");
        assert_eq!(renewal("s", None, &fence, 10_000).unwrap_err().code(), "ERR_SESSION_FENCED");
        assert_eq!(renewal("s", Some(&StoredLease::placeholder(1)), &fence, 10_000).unwrap_err().code(), "ERR_SESSION_FENCED");
    }
}
