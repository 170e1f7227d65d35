//! What the write and lease functions return (`migrations/002_write_functions.sql`), as our
//! types: a status and the lease's fields, which become a `LeaseInfo`, `ERR_SESSION_LOCKED`
//! with its owner, or `ERR_SESSION_FENCED`, as the Redis backend builds them.

use crate::core::error::{Result, StoreError};
use crate::core::lease::{self, Fence, LeaseInfo, LeaseOwner};

/// `o_status, o_holder, o_epoch, o_host, o_pid, o_acquired_at, o_expires_at, o_live`.
pub(super) type LeaseRow = (String, String, i64, String, i64, i64, i64, bool);

/// A lease row with its 1-based position in the request (`acquire_leases`, `renew_leases`).
pub(super) type IndexedLeaseRow = (i32, String, String, i64, String, i64, i64, i64, bool);

/// The statement of [`Store::forget_lease`](crate::core::store::Store::forget_lease) (binds:
/// session, holder, epoch): a plain `DELETE` re-checks its condition on the latest row version,
/// so the lease row goes only if the fence still names it.
pub(super) fn forget_sql(leases: &str) -> String {
    format!("DELETE FROM {leases} WHERE session = $1 AND holder <> '' AND holder = $2 AND epoch = $3")
}

/// The stored lease a row describes; `None` for no lease (no row, or a placeholder: epoch 0).
fn stored(session: &str, row: &LeaseRow) -> Result<Option<(u64, LeaseOwner)>> {
    let (_, _, epoch, host, pid, acquired_at_ms, expires_at_ms, _) = row;
    let epoch = u64::try_from(*epoch).map_err(|_| StoreError::corrupt(format!("session {session:?}: a stored lease epoch is negative")))?;
    if epoch == 0 {
        return Ok(None);
    }
    let pid = u32::try_from(*pid).map_err(|_| StoreError::corrupt(format!("session {session:?}: a stored lease pid is out of range")))?;
    Ok(Some((epoch, LeaseOwner { host: host.clone(), pid, acquired_at_ms: *acquired_at_ms, expires_at_ms: *expires_at_ms })))
}

/// A row as the lease it describes (`None`: no lease), or the error its status stands for.
pub(super) fn lease_outcome(session: &str, fence: Option<&Fence>, row: LeaseRow) -> Result<Option<LeaseInfo>> {
    let lease = stored(session, &row)?;
    let (status, holder, .., live) = row;
    match (status.as_str(), lease) {
        ("ok", lease) => Ok(lease.map(|(epoch, owner)| LeaseInfo { holder, epoch, owner, live })),
        ("locked", Some((_, owner))) => Err(StoreError::SessionLocked { session: session.to_owned(), owner }),
        ("fenced", lease) => match fence {
            Some(fence) => Err(lease::fenced(session, fence, lease.as_ref().map(|(epoch, owner)| (holder.as_str(), *epoch, owner)))),
            None => Err(StoreError::Io("PostgreSQL fenced a write that carried no fence".into())),
        },
        (other, _) => Err(StoreError::Io(format!("unexpected lease status from PostgreSQL: {other:?}"))),
    }
}

/// A write function's row: `Ok` when it wrote, else the lease error that refused it.
pub(super) fn write_outcome(session: &str, fence: Option<&Fence>, row: LeaseRow) -> Result<()> {
    lease_outcome(session, fence, row).map(drop)
}

/// A granting or renewing function's row: the lease it granted or renewed, or its refusal.
pub(super) fn granted(session: &str, fence: Option<&Fence>, row: LeaseRow) -> Result<LeaseInfo> {
    lease_outcome(session, fence, row)?.ok_or_else(|| StoreError::Io("PostgreSQL granted a lease it does not hold".into()))
}

/// The rows of a batch call in request order, each checked against its position: one per
/// request, or the call failed as a whole.
pub(super) fn in_request_order(rows: Vec<IndexedLeaseRow>, count: usize) -> Result<Vec<LeaseRow>> {
    let mut ordered: Vec<Option<LeaseRow>> = vec![None; count];
    for (index, status, holder, epoch, host, pid, acquired, expires, live) in rows {
        let slot = usize::try_from(index).ok().and_then(|i| i.checked_sub(1)).and_then(|i| ordered.get_mut(i));
        match slot {
            Some(slot) if slot.is_none() => *slot = Some((status, holder, epoch, host, pid, acquired, expires, live)),
            _ => return Err(StoreError::Io(format!("PostgreSQL answered a lease request out of order (position {index})"))),
        }
    }
    ordered.into_iter().map(|row| row.ok_or_else(|| StoreError::Io("PostgreSQL left a lease request unanswered".into()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: &str, holder: &str, epoch: i64) -> LeaseRow {
        (status.into(), holder.into(), epoch, "h".into(), 7, 10, 20, true)
    }

    #[test]
    fn statuses_become_leases_and_lease_errors() {
        let info = lease_outcome("s", None, row("ok", "a", 3)).unwrap().unwrap();
        assert_eq!((info.holder.as_str(), info.epoch, info.owner.pid, info.live), ("a", 3, 7, true));
        assert_eq!(lease_outcome("s", None, row("ok", "", 0)).unwrap(), None, "a placeholder is no lease");
        assert_eq!(write_outcome("s", None, row("locked", "a", 3)).unwrap_err().code(), "ERR_SESSION_LOCKED");
        let fence = Fence { holder: "b".into(), epoch: 2 };
        let err = write_outcome("s", Some(&fence), row("fenced", "a", 3)).unwrap_err();
        assert_eq!(err.code(), "ERR_SESSION_FENCED");
        assert!(err.to_string().contains("taken over (epoch 3"), "{err}");
        let err = write_outcome("s", Some(&fence), row("fenced", "", 0)).unwrap_err();
        assert!(err.to_string().contains("holds no lease"), "{err}");
        assert_eq!(lease_outcome("s", None, row("ok", "a", -1)).unwrap_err().code(), "ERR_STORE_CORRUPT");
        assert_eq!(write_outcome("s", None, row("what", "a", 1)).unwrap_err().code(), "ERR_STORE_IO");
    }

    #[test]
    fn batch_rows_come_back_in_request_order_or_fail_whole() {
        let indexed = |i: i32, holder: &str| (i, "ok".to_string(), holder.to_string(), 1, "h".to_string(), 1, 0, 0, true);
        let rows = in_request_order(vec![indexed(2, "b"), indexed(1, "a")], 2).unwrap();
        assert_eq!((rows[0].1.as_str(), rows[1].1.as_str()), ("a", "b"));
        assert!(in_request_order(vec![indexed(1, "a")], 2).is_err());
        assert!(in_request_order(vec![indexed(1, "a"), indexed(1, "a")], 2).is_err());
        assert!(in_request_order(vec![indexed(0, "a")], 1).is_err());
    }
}
