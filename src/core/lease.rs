//! Session ownership: one writer per session, with fenced writes (`docs/ownership.md`).
//!
//! A *lease* says which handle owns a session, until when, and under which *epoch*: a counter,
//! stored beside the session's data, that grows by one at every acquisition and never goes back.
//! A write given a [`Fence`] (the holder and epoch its handle was granted) is applied only if
//! the stored lease still names that holder and epoch, checked in the same transaction (SQLite)
//! or script (Redis) as the write: an owner that was paused past its lease and taken over
//! cannot write, whatever it believes. A write without a fence is refused while someone else
//! holds a live lease on the session.
//!
//! This file holds what every backend shares: the types, the rule that says whether a lease is
//! live and who may take it ([`decide`]), this process's token, and the host's clocks. Each
//! backend stores the lease its own way (`leases` table, Redis hash) and applies the rule in
//! the write's transaction; Redis applies it in Lua, with the server's clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

pub use super::error::LeaseOwner;
use super::error::{Result, StoreError};

/// What a writer proves with each write: the lease it was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub holder: String,
    pub epoch: u64,
}

impl Fence {
    /// The fence as JavaScript carries it: `"<epoch>:<holder>"`.
    pub fn parse(text: &str) -> Result<Fence> {
        let bad = || StoreError::invalid("fence must be the token a lease was granted with");
        let (epoch, holder) = text.split_once(':').ok_or_else(bad)?;
        let epoch = epoch.parse::<u64>().map_err(|_| bad())?;
        if holder.is_empty() || epoch == 0 {
            return Err(bad());
        }
        Ok(Fence { holder: holder.to_owned(), epoch })
    }

    pub fn token(&self) -> String {
        format!("{}:{}", self.epoch, self.holder)
    }
}

/// What to do when someone else holds a live lease on the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Refuse with `ERR_SESSION_LOCKED` (tools, and the default across processes).
    Refuse,
    /// Take it if its holder is in this process (the reconnect pattern: Baileys apps call
    /// `useRustAuthState` again without closing the first handle); refuse otherwise.
    SameProcess,
    /// Take it from whoever holds it (`takeover: true`); that holder is fenced.
    Takeover,
}

impl Claim {
    pub fn parse(text: &str) -> Result<Claim> {
        match text {
            "refuse" => Ok(Claim::Refuse),
            "process" => Ok(Claim::SameProcess),
            "takeover" => Ok(Claim::Takeover),
            _ => Err(StoreError::invalid("claim must be 'refuse', 'process' or 'takeover'")),
        }
    }
}

/// A request for a session's lease.
#[derive(Debug, Clone)]
pub struct LeaseRequest {
    /// The new holder: unique to this acquisition (see [`new_holder`]).
    pub holder: String,
    /// The process asking ([`process_token`]), so that [`Claim::SameProcess`] can tell.
    pub process: String,
    /// For people reading `ERR_SESSION_LOCKED` and `stats`: the host name and pid.
    pub host: String,
    pub pid: u32,
    /// How long the lease lives without renewal.
    pub lease_ms: u64,
    pub claim: Claim,
}

impl LeaseRequest {
    /// A request from this process, with a new holder.
    pub fn new(lease_ms: u64, claim: Claim, host: impl Into<String>) -> LeaseRequest {
        LeaseRequest {
            holder: new_holder(),
            process: process_token().to_owned(),
            host: host.into(),
            pid: std::process::id(),
            lease_ms,
            claim,
        }
    }
}

/// A session's lease as it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    pub holder: String,
    pub epoch: u64,
    pub owner: LeaseOwner,
    /// Whether it is live now: held (not released) and not expired. Acquisitions and writes also
    /// ask (SQLite) whether its holder died; reads of the lease do not (see `SqliteStore::lease`).
    pub live: bool,
}

impl LeaseInfo {
    pub fn fence(&self) -> Fence {
        Fence { holder: self.holder.clone(), epoch: self.epoch }
    }
}

/// The stored state of a lease, as the local backends (memory, SQLite) keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRecord {
    /// Empty once released.
    pub holder: String,
    pub process: String,
    pub epoch: u64,
    pub owner: LeaseOwner,
    /// The holder's boot id (`""` where the platform has none) and its deadline on that
    /// boot's clock ([`HostClock`]); `None` without one.
    pub boot: String,
    pub expires_boot_ms: Option<i64>,
    /// Which lock file the holder holds (SQLite), which the kernel releases when it dies.
    pub kernel_lock: KernelLock,
}

/// The lock file a lease's holder holds while it lives (SQLite, `sqlite/lease.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelLock {
    /// None: the lease ends by time only (memory, a read-only directory, a released lease).
    None,
    /// One per session (schema version 3): `<database>.leases/<hash of the session>.lock`.
    Session,
    /// One per process and database: `<database>.leases/<process token>.lock`.
    Process,
}

/// Now, on the clocks a local lease is measured by.
#[derive(Debug, Clone)]
pub struct HostClock {
    pub wall_ms: i64,
    /// This boot's id and the time since it began (counting suspend), when the platform tells
    /// both (Linux: `/proc/sys/kernel/random/boot_id` and `CLOCK_BOOTTIME`).
    pub boot: String,
    pub boot_ms: Option<i64>,
}

impl HostClock {
    pub fn now() -> HostClock {
        let (boot, boot_ms) = boot_clock();
        let wall_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        HostClock { wall_ms, boot: boot.to_owned(), boot_ms }
    }

    /// Whether a deadline has passed. On the holder's own boot the boot-time clock decides:
    /// it never jumps, so setting the wall clock neither ends nor prolongs a lease. A lease
    /// from another boot (or a platform without a boot clock) is measured by the wall clock.
    pub fn expired(&self, record: &LeaseRecord) -> bool {
        match (record.expires_boot_ms, self.boot_ms) {
            (Some(deadline), Some(now)) if !self.boot.is_empty() && record.boot == self.boot => now >= deadline,
            _ => self.wall_ms >= record.owner.expires_at_ms,
        }
    }
}

/// The host's boot id and boot-time clock, where the platform has them.
fn boot_clock() -> (&'static str, Option<i64>) {
    #[cfg(target_os = "linux")]
    {
        static BOOT_ID: OnceLock<String> = OnceLock::new();
        let boot = BOOT_ID
            .get_or_init(|| std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_owned()).unwrap_or_default());
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes one timespec, which lives on this stack.
        let ok = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } == 0;
        if boot.is_empty() || !ok {
            return ("", None);
        }
        // `time_t` and `c_long` are narrower than i64 on 32-bit targets.
        #[allow(clippy::unnecessary_cast)]
        let ms = ts.tv_sec as i64 * 1000 + ts.tv_nsec as i64 / 1_000_000;
        (boot.as_str(), Some(ms))
    }
    #[cfg(not(target_os = "linux"))]
    {
        ("", None)
    }
}

/// What [`decide`] says of an acquisition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The session is free (never leased, released, expired, or its holder died).
    Free,
    /// Someone holds it and the request may take it over.
    TakeOver,
}

/// The rule every local backend applies (Redis applies the same in `acquire.lua`): may `request`
/// take the session whose stored lease is `record`? `holder_died` is asked only of a live lease
/// whose holder held the lock file: it says whether that lock is free now (its holder is dead).
pub fn decide(
    session: &str,
    record: Option<&LeaseRecord>,
    request: &LeaseRequest,
    now: &HostClock,
    holder_died: impl FnOnce() -> bool,
) -> Result<Decision> {
    let Some(record) = record else { return Ok(Decision::Free) };
    if !is_live(record, now, holder_died) {
        return Ok(Decision::Free);
    }
    let ours = record.process == request.process;
    match request.claim {
        Claim::Takeover => Ok(Decision::TakeOver),
        Claim::SameProcess if ours => Ok(Decision::TakeOver),
        _ => Err(StoreError::SessionLocked { session: session.to_owned(), owner: record.owner.clone() }),
    }
}

/// Whether a stored lease is live now. A holder that held a lock file and no longer does is
/// dead (the kernel released its lock), unless it is this process, whose locks the caller knows.
pub fn is_live(record: &LeaseRecord, now: &HostClock, holder_died: impl FnOnce() -> bool) -> bool {
    if record.holder.is_empty() || now.expired(record) {
        return false;
    }
    !(record.kernel_lock != KernelLock::None && record.process != process_token() && holder_died())
}

/// The check before a write: with a fence, the stored lease must name its holder and epoch
/// (`ERR_SESSION_FENCED` otherwise); without one, nobody else may hold a live lease
/// (`ERR_SESSION_LOCKED`). `live` says whether the stored lease is live.
pub fn check_write(session: &str, stored: Option<(&str, u64, &LeaseOwner)>, live: bool, fence: Option<&Fence>) -> Result<()> {
    match (fence, stored) {
        (Some(fence), Some((holder, epoch, _))) if holder == fence.holder && epoch == fence.epoch => Ok(()),
        (Some(fence), stored) => Err(fenced(session, fence, stored)),
        (None, Some((holder, _, owner))) if live && !holder.is_empty() => {
            Err(StoreError::SessionLocked { session: session.to_owned(), owner: owner.clone() })
        }
        (None, _) => Ok(()),
    }
}

/// `ERR_SESSION_FENCED` for a fence that no longer matches `stored` (holder, epoch, owner), if any.
pub fn fenced(session: &str, fence: &Fence, stored: Option<(&str, u64, &LeaseOwner)>) -> StoreError {
    let now = match stored {
        None => "the store holds no lease for it".to_owned(),
        Some(("", _, _)) => "it was released".to_owned(),
        Some((_, epoch, owner)) => format!("it was taken over (epoch {epoch}, by {} pid {})", owner.host, owner.pid),
    };
    StoreError::SessionFenced(format!(
        "session {session:?}: this handle's lease (epoch {}) is no longer the session's: {now}; nothing of this call was written",
        fence.epoch
    ))
}

/// This process's token: random, so that two processes never share one, even two pid 1s in two
/// containers on one volume.
pub fn process_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| format!("{:016x}{:016x}", random_u64(), random_u64()))
}

/// A holder id unique to one acquisition: this process's token and a counter.
pub fn new_holder() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{}-{}", process_token(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// 64 random bits from the operating system (std seeds `RandomState` from it).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.finish()
}

/// A new record granting `request` the lease, one epoch after `previous`.
pub fn grant(previous: Option<&LeaseRecord>, request: &LeaseRequest, now: &HostClock, kernel_lock: KernelLock) -> LeaseRecord {
    let lease_ms = request.lease_ms as i64;
    LeaseRecord {
        holder: request.holder.clone(),
        process: request.process.clone(),
        epoch: previous.map_or(0, |r| r.epoch) + 1,
        owner: LeaseOwner {
            host: request.host.clone(),
            pid: request.pid,
            acquired_at_ms: now.wall_ms,
            expires_at_ms: now.wall_ms.saturating_add(lease_ms),
        },
        boot: now.boot.clone(),
        expires_boot_ms: now.boot_ms.map(|b| b.saturating_add(lease_ms)),
        kernel_lock,
    }
}

/// `record` renewed for `lease_ms` from now.
pub fn renewed(record: &LeaseRecord, lease_ms: u64, now: &HostClock) -> LeaseRecord {
    let lease_ms = lease_ms as i64;
    let mut next = record.clone();
    next.owner.expires_at_ms = now.wall_ms.saturating_add(lease_ms);
    next.boot = now.boot.clone();
    next.expires_boot_ms = now.boot_ms.map(|b| b.saturating_add(lease_ms));
    next
}

/// The longest lease accepted: a day. A longer one would outlive most crashes' patience.
pub const MAX_LEASE_MS: u64 = 86_400_000;

/// Checks a lease duration.
pub fn check_lease_ms(lease_ms: u64) -> Result<()> {
    if !(1_000..=MAX_LEASE_MS).contains(&lease_ms) {
        return Err(StoreError::invalid(format!("leaseMs must be between 1000 and {MAX_LEASE_MS}")));
    }
    Ok(())
}

impl LeaseRecord {
    pub fn info(&self, live: bool) -> LeaseInfo {
        LeaseInfo { holder: self.holder.clone(), epoch: self.epoch, owner: self.owner.clone(), live }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(wall_ms: i64, boot: &str, boot_ms: Option<i64>) -> HostClock {
        HostClock { wall_ms, boot: boot.into(), boot_ms }
    }

    fn request(claim: Claim, process: &str) -> LeaseRequest {
        LeaseRequest { holder: format!("{process}-h"), process: process.into(), host: "h".into(), pid: 7, lease_ms: 30_000, claim }
    }

    #[test]
    fn on_one_boot_the_boot_clock_decides_whatever_the_wall_clock_says() {
        let held = grant(None, &request(Claim::Refuse, "p1"), &clock(1_000_000, "b", Some(50)), KernelLock::None);
        // The wall clock jumped a day forward, the boot clock moved 1 s: still live.
        assert!(!clock(1_000_000 + 86_400_000, "b", Some(1_050)).expired(&held));
        // The wall clock jumped back: the boot clock still ends the lease on time.
        assert!(clock(0, "b", Some(30_050)).expired(&held));
        // Another boot: the wall clock decides.
        assert!(!clock(1_000_000 + 29_000, "other", Some(1)).expired(&held));
        assert!(clock(1_000_000 + 30_000, "other", Some(1)).expired(&held));
    }

    #[test]
    fn a_live_lease_is_refused_taken_in_process_or_taken_over() {
        let now = clock(10, "b", Some(10));
        let held = grant(None, &request(Claim::Refuse, "p1"), &now, KernelLock::None);
        assert_eq!(held.epoch, 1);
        let err = decide("s", Some(&held), &request(Claim::SameProcess, "p2"), &now, || false).unwrap_err();
        assert_eq!(err.code(), "ERR_SESSION_LOCKED");
        assert_eq!(decide("s", Some(&held), &request(Claim::SameProcess, "p1"), &now, || false).unwrap(), Decision::TakeOver);
        assert_eq!(decide("s", Some(&held), &request(Claim::Takeover, "p2"), &now, || false).unwrap(), Decision::TakeOver);
        assert!(decide("s", Some(&held), &request(Claim::Refuse, "p1"), &now, || false).is_err());
        assert_eq!(grant(Some(&held), &request(Claim::Refuse, "p2"), &now, KernelLock::None).epoch, 2);
    }

    #[test]
    fn a_holder_whose_lock_file_is_free_is_dead() {
        let now = clock(10, "b", Some(10));
        let held = grant(None, &request(Claim::Refuse, "p1"), &now, KernelLock::Process);
        assert_eq!(decide("s", Some(&held), &request(Claim::Refuse, "p2"), &now, || true).unwrap(), Decision::Free);
        assert!(decide("s", Some(&held), &request(Claim::Refuse, "p2"), &now, || false).is_err());
    }

    #[test]
    fn writes_check_the_fence_and_unfenced_writes_the_lease() {
        let owner = LeaseOwner { host: "h".into(), pid: 1, acquired_at_ms: 0, expires_at_ms: 1 };
        let fence = Fence { holder: "a".into(), epoch: 2 };
        assert!(check_write("s", Some(("a", 2, &owner)), true, Some(&fence)).is_ok());
        assert!(check_write("s", Some(("a", 2, &owner)), false, Some(&fence)).is_ok(), "expired but not taken: still its writer");
        assert_eq!(check_write("s", Some(("b", 3, &owner)), true, Some(&fence)).unwrap_err().code(), "ERR_SESSION_FENCED");
        assert_eq!(check_write("s", None, false, Some(&fence)).unwrap_err().code(), "ERR_SESSION_FENCED");
        assert_eq!(check_write("s", Some(("b", 3, &owner)), true, None).unwrap_err().code(), "ERR_SESSION_LOCKED");
        assert!(check_write("s", Some(("b", 3, &owner)), false, None).is_ok());
        assert!(check_write("s", None, false, None).is_ok());
    }

    #[test]
    fn fences_round_trip_as_text_and_bad_ones_are_refused() {
        let fence = Fence { holder: "p-1".into(), epoch: 9 };
        assert_eq!(Fence::parse(&fence.token()).unwrap(), fence);
        for bad in ["", "9", ":x", "0:x", "x:y", "9:"] {
            assert_eq!(Fence::parse(bad).unwrap_err().code(), "ERR_INVALID_ARG", "{bad:?}");
        }
    }

    #[test]
    fn holders_are_unique_and_the_process_token_is_stable() {
        assert_ne!(new_holder(), new_holder());
        assert_eq!(process_token(), process_token());
        assert_eq!(process_token().len(), 32);
    }
}
