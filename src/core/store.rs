//! The contract every backend and every layer fulfils. A *backend* (`memory`, `sqlite`,
//! `redis`; later PostgreSQL and MySQL) stores bytes; a *layer* (`layers/`: the byte check, later
//! ownership, cache, cipher, metrics) wraps any `Store` and adds one concern. This file names
//! neither: the URL factory ([`open`](super::open)) stacks them. One conformance suite
//! (`tests/conformance.rs`) runs against each backend and each store the factory returns, with
//! [`MemoryStore`](super::memory::MemoryStore) as the reference.
//!
//! Values are opaque bytes here (codec blobs, checked by the byte-check layer, not by
//! backends); a session is any non-empty string and owns its creds and its keys, addressed by
//! `(type, id)`.
//!
//! # Session ownership
//!
//! Every write takes `fence: Option<&Fence>` ([`lease`](super::lease)): with a fence, the backend
//! applies the write only if the session's stored lease still names that holder and epoch, and
//! checks it in the same transaction or script as the write (`ERR_SESSION_FENCED` otherwise,
//! nothing written); without one, only if nobody else holds a live lease
//! (`ERR_SESSION_LOCKED`). The lease methods take, renew and release leases; reads never look
//! at leases. Layers forward fences unchanged.

use super::cipher::UserKey;
use super::error::{LeaseOwner, Result};
use super::lease::{Fence, LeaseInfo, LeaseRequest};

/// One change in a key batch: `value: None` deletes the key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyWrite {
    pub kind: String,
    pub id: String,
    pub value: Option<Vec<u8>>,
}

/// One stored key, without its value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyInfo {
    pub kind: String,
    pub id: String,
    /// Length of the stored value (codec blob), in bytes.
    pub bytes: u64,
}

/// The keys of one type in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindStats {
    pub kind: String,
    pub count: u64,
    /// Sum of the stored values' lengths, in bytes.
    pub bytes: u64,
}

/// What a session holds. An unknown session has no creds, no kinds and no time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionStats {
    /// Length of the stored creds, or `None` without creds.
    pub creds_bytes: Option<u64>,
    /// Types with at least one key, sorted by type (byte order).
    pub kinds: Vec<KindStats>,
    /// The session's last write, in ms since the Unix epoch by the writer's clock; `None`
    /// when the session has neither creds nor keys.
    pub updated_at_ms: Option<i64>,
}

/// A store of many sessions' auth state: a backend, or a layer over one. Methods take `&mut self`
/// because an [`Executor`](super::executor::Executor) owns each store and calls it from one
/// thread, one operation at a time.
pub trait Store: Send {
    /// The session's saved creds, or `None` if it has none.
    fn get_creds(&mut self, session: &str) -> Result<Option<Vec<u8>>>;

    /// Replaces the session's creds, creating the session if needed. Durable on return.
    fn set_creds(&mut self, session: &str, creds: &[u8], fence: Option<&Fence>) -> Result<()>;

    /// The values of `ids` of one key type, in the order of `ids`; `None` where absent.
    fn get_keys(&mut self, session: &str, kind: &str, ids: &[String]) -> Result<Vec<Option<Vec<u8>>>>;

    /// Applies every write of the batch, or none of them if any fails. Durable on return.
    /// A batch of deletes only does not create the session.
    fn apply(&mut self, session: &str, writes: &[KeyWrite], fence: Option<&Fence>) -> Result<()>;

    /// Removes every key of the session (not its creds).
    fn clear_keys(&mut self, session: &str, fence: Option<&Fence>) -> Result<()>;

    /// Removes the session: its creds and all its keys. Its lease (and epoch) stay: the epoch
    /// never goes back, so a handle fenced before the delete stays fenced after it.
    fn delete_session(&mut self, session: &str, fence: Option<&Fence>) -> Result<()>;

    /// Takes the session's lease for `request.holder`, one epoch above the last, or refuses
    /// with `ERR_SESSION_LOCKED` (see [`Claim`](super::lease::Claim)). Durable on return.
    fn acquire_lease(&mut self, session: &str, request: &LeaseRequest) -> Result<LeaseInfo>;

    /// Extends the lease `fence` names by `lease_ms` from now, or fails with
    /// `ERR_SESSION_FENCED` if it is no longer the session's.
    fn renew_lease(&mut self, session: &str, fence: &Fence, lease_ms: u64) -> Result<LeaseInfo>;

    /// Gives the lease back, so that the next owner takes it at once; a lease already taken
    /// over is left alone (not an error).
    fn release_lease(&mut self, session: &str, fence: &Fence) -> Result<()>;

    /// Deletes the session's lease record, epoch and all, if `fence` still names it (holder and
    /// epoch), in one statement or script; a lease taken over (or released) is left alone (not
    /// an error). Only for a session that is gone for good under this name: a store conversion
    /// (`encrypt`, `decrypt`) moves each session to another name and must leave no record of
    /// the old one. Writes fenced before it stay fenced: the next lease starts again at epoch 1,
    /// but with a new holder, and a fence compares both.
    fn forget_lease(&mut self, session: &str, fence: &Fence) -> Result<()>;

    /// The session's stored lease, live or not, or `None` if it was never leased.
    fn lease(&mut self, session: &str) -> Result<Option<LeaseInfo>>;

    /// Every stored lease, sorted by session.
    fn leases(&mut self) -> Result<Vec<(String, LeaseInfo)>>;

    /// The store's own record `name` (not a session's: the encryption layer keeps its salt and
    /// sealed keys here), or `None`. Sessions, listings, stats and deletes never see records.
    fn meta(&mut self, name: &str) -> Result<Option<Vec<u8>>>;

    /// Replaces record `name` with `value` (`None` removes it) if it holds `expected` now
    /// (`None`: absent), in one transaction or script, and says whether it did. Durable on
    /// return. Two processes creating the same record at once: one wins, the other sees `false`
    /// and reads what the winner wrote.
    fn swap_meta(&mut self, name: &str, expected: Option<&[u8]>, value: Option<&[u8]>) -> Result<bool>;

    /// Every session that has creds or at least one key, sorted.
    fn sessions(&mut self) -> Result<Vec<String>>;

    /// Called before each operation with the moment it was issued (it may have waited in
    /// line since). Networked backends measure their timeouts from it.
    fn operation_issued(&mut self, _at: std::time::Instant) {}

    /// Called before [`Store::write_group`], instead of [`Store::operation_issued`], with the
    /// moment each write of the group was issued, in the group's order, so that a backend can
    /// give each write its own deadline (Redis: a write that waited in line past its own fails
    /// alone, and does not fail the fresher writes grouped with it). By default the group is
    /// one operation, issued when its oldest (first) write was.
    fn group_issued(&mut self, at: &[std::time::Instant]) {
        if let Some(&first) = at.first() {
            self.operation_issued(first);
        }
    }

    /// Every key of the session with its value's length, sorted by (type, id) in byte order;
    /// empty for an unknown session. Reads do not refresh a Redis TTL.
    fn list_keys(&mut self, session: &str) -> Result<Vec<KeyInfo>>;

    /// The session's creds size, key count and bytes per type, and last write time.
    /// `updated_at_ms` may lag the last key write by up to a second on SQLite, which rewrites
    /// the session row at most once a second for key writes (creds writes set it exactly).
    fn stats(&mut self, session: &str) -> Result<SessionStats>;

    /// Writes a consistent copy of the whole store to a new SQLite database at `dest`, while
    /// the store stays open; `dest` is replaced atomically (it is always either what it was or
    /// a complete copy). Its directory must exist. Backends that cannot do it fail with
    /// [`StoreError::Unsupported`](super::error::StoreError::Unsupported).
    fn backup(&mut self, dest: &std::path::Path) -> Result<()>;

    /// Checks the store's own consistency (for SQLite: `PRAGMA integrity_check` and the
    /// foreign keys). Returns the problems found, empty when the store is sound.
    fn check(&mut self) -> Result<Vec<String>>;

    /// What this store is, as opposed to the URL it was opened with: two stores with the same
    /// identity hold the same data (one SQLite file through two paths, one Redis server, db
    /// and key prefix through two URLs). Tools compare it before copying a store onto another.
    fn identity(&self) -> String;

    /// The longest session id, key type and key id the store takes, in UTF-8 bytes, or `None`
    /// when any length is taken. Tools that copy many batches into a session (migrate) check
    /// every name first, so that a session refused for one name is not left half-copied.
    fn name_limits(&self) -> Option<NameLimits> {
        None
    }

    /// Applies several independent writes (of any sessions) and returns one result per write,
    /// in order, each exactly what [`Store::set_creds`] or [`Store::apply`] would have
    /// returned for it alone: a write that fails writes nothing and does not stop the others.
    /// Every `Ok` is durable on return. Backends that can make them share one commit (SQLite:
    /// one transaction, one fsync) or one round trip (Redis: one pipeline) do; by default they
    /// run one by one. The [`Executor`](super::executor::Executor) calls it with the writes
    /// that queued up behind each other.
    fn write_group(&mut self, group: &[Write<'_>]) -> Vec<Result<()>> {
        group.iter().map(|write| write.apply_to(self)).collect()
    }

    /// Takes several sessions' leases, each as [`acquire_lease`](Store::acquire_lease) would,
    /// with each its own outcome (one refused `ERR_SESSION_LOCKED` does not fail the others).
    /// The outer error is the store's (nothing of the call was granted). Backends may grant
    /// them in one transaction: many sessions starting at once cost few.
    fn acquire_leases(&mut self, requests: &[(String, LeaseRequest)]) -> Result<Vec<Result<LeaseInfo>>> {
        for (_, request) in requests {
            super::lease::check_lease_ms(request.lease_ms)?;
        }
        Ok(requests.iter().map(|(session, request)| self.acquire_lease(session, request)).collect())
    }

    /// Renews several leases for `lease_ms` from now, each as [`renew_lease`](Store::renew_lease)
    /// would, with each its own outcome (a fenced one does not fail the others): one renewal
    /// per store and process however many sessions it owns (`lib/ownership.js`).
    fn renew_leases(&mut self, leases: &[(String, Fence)], lease_ms: u64) -> Result<Vec<Result<LeaseInfo>>> {
        super::lease::check_lease_ms(lease_ms)?;
        Ok(leases.iter().map(|(session, fence)| self.renew_lease(session, fence, lease_ms)).collect())
    }

    /// The controls of the store's encryption layer, if the store is encrypted: what a rekey
    /// drives. Layers above it pass it through.
    fn cipher(&mut self) -> Option<&mut dyn CipherControl> {
        None
    }
}

/// A rekey, step by step (docs/encryption.md, "Rotation"): [`begin`](CipherControl::rekey_begin)
/// adds the new key and a new value key that seals every write from then on, while the old key
/// still opens the store; [`rekey_session`](CipherControl::rekey_session) re-seals one session's
/// values under that value key; [`finish`](CipherControl::rekey_finish) leaves the new key the
/// only one that opens the store. Each step may be run again: an interrupted rekey resumes.
pub trait CipherControl {
    /// Begins a rekey to `new`, or finds it begun or finished.
    fn rekey_begin(&mut self, new: &UserKey) -> Result<RekeyStart>;
    /// Re-seals the values of `session` still sealed under an older value key, as the session's
    /// owner for the time it takes (a lease made from `request`, given back at the end). A
    /// session another process owns is left to it (owners re-seal their own sessions when they
    /// renew their lease) and only counted.
    fn rekey_session(&mut self, session: &str, request: &LeaseRequest) -> Result<SessionRekey>;
    /// Ends the rekey: `new` is then the only key that opens the store.
    fn rekey_finish(&mut self, new: &UserKey) -> Result<()>;
}

/// What [`CipherControl::rekey_begin`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RekeyStart {
    /// The store had one key; it now has the new one too.
    Begun,
    /// A rekey to this key had begun: it resumes.
    Resumed,
    /// The new key is the only one that opens the store already: a rekey to it finished, or
    /// it is the key the store had.
    OnlyKey,
}

impl RekeyStart {
    pub fn name(self) -> &'static str {
        match self {
            RekeyStart::Begun => "begun",
            RekeyStart::Resumed => "resumed",
            RekeyStart::OnlyKey => "only-key",
        }
    }
}

/// What [`CipherControl::rekey_session`] did to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRekey {
    /// Values it re-sealed.
    pub resealed: u64,
    /// Values still sealed under an older key: 0 when the session is done.
    pub stale: u64,
    /// Who owns the session, when another process does (it re-seals them itself).
    pub owner: Option<LeaseOwner>,
}

/// What a layer that passes only some writes of a group on (the others refused) tells the
/// store under it of their issue times: those of the passed writes, in order, if the layer
/// was told one per write of the group ([`Store::group_issued`]).
pub fn pass_group_issued<S: Store + ?Sized>(inner: &mut S, issued: Vec<std::time::Instant>, passed: &[bool]) {
    if issued.len() == passed.len() {
        let kept: Vec<std::time::Instant> = issued.into_iter().zip(passed).filter(|(_, passed)| **passed).map(|(at, _)| at).collect();
        inner.group_issued(&kept);
    }
}

/// What [`Store::name_limits`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameLimits {
    pub session: usize,
    pub kind: usize,
    pub id: usize,
}

/// One of the writes [`Store::write_group`] takes: a creds save or a key batch.
#[derive(Debug, Clone, Copy)]
pub enum Write<'a> {
    Creds { session: &'a str, creds: &'a [u8], fence: Option<&'a Fence> },
    Keys { session: &'a str, writes: &'a [KeyWrite], fence: Option<&'a Fence> },
}

impl Write<'_> {
    /// Applies this write alone, with [`Store::set_creds`] or [`Store::apply`].
    pub fn apply_to<S: Store + ?Sized>(&self, store: &mut S) -> Result<()> {
        match *self {
            Write::Creds { session, creds, fence } => store.set_creds(session, creds, fence),
            Write::Keys { session, writes, fence } => store.apply(session, writes, fence),
        }
    }

    /// The bytes it carries (values and names), to bound a group's size.
    pub fn size(&self) -> usize {
        match *self {
            Write::Creds { session, creds, .. } => session.len() + creds.len(),
            Write::Keys { session, writes, .. } => {
                session.len() + writes.iter().map(|w| w.kind.len() + w.id.len() + w.value.as_ref().map_or(0, Vec::len)).sum::<usize>()
            }
        }
    }
}

/// The identity of a store that nothing else can share (an in-memory store): unique in the
/// process, and across processes.
pub(crate) fn private_identity(kind: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{kind}:{}:{n}", std::process::id())
}

/// The wall clock in ms since the Unix epoch, as stores record last writes.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
