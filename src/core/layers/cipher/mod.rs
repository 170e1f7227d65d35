//! Encryption at rest: the layer right above the backend, so the backend (its files, dumps,
//! backups and replicas) only ever holds what this layer hands it, and every layer above sees
//! plaintext. The primitives are in [`cipher`](crate::core::cipher); docs/encryption.md is the
//! user's side.
//!
//! What the backend holds, for a session `s` with creds and a key `(type, id)`:
//!
//! - the session under its hashed name `H(s)`, never `s`; `s` itself sealed in the store record
//!   `session:H(s)`, written before the session's first write or lease, so that listings
//!   (sessions, leases) can name it;
//! - the creds sealed for `(H(s), creds)`;
//! - the key under `(type, H(s, type, id))`, its value sealed for that place with `id` inside
//!   (`varint(len) · id · value`), so that listing a session's keys can name them. The type
//!   stays in the clear: Baileys' dozen type names say which kinds of keys a session has and
//!   how many, never whose.
//!
//! Leases keep their holder token, host name and pid in the clear: they name processes, not
//! accounts. Listings and stats open the session's values, so they answer as a plain store
//! does (plaintext sizes, real ids), at the cost of reading the session.
//!
//! Every value read is opened or refused: a value that is not sealed, fails its seal, or was
//! moved from another row is `ERR_STORE_CORRUPT` naming its session, type and id, never a
//! value of some other kind; nothing is ever read as plaintext.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::core::cipher::record::{self, RECORD_NAME};
use crate::core::cipher::seal::{is_hashed, key_id_of, HASHED_ID_CHARS, HASHED_SESSION_CHARS};
use crate::core::cipher::{Place, StoreKeys, UserKey};
use crate::core::error::{Result, StoreError};
use crate::core::lease::{Fence, LeaseInfo, LeaseRequest};
use crate::core::store::{CipherControl, KeyInfo, KeyWrite, KindStats, RekeyStart, SessionRekey, SessionStats, Store, Write};
use crate::core::varint;

pub mod convert;

/// The prefix of the store records that hold sealed session names.
const NAME_RECORD: &str = "session:";
/// Keys read and re-sealed per batch by a rekey.
const RESEAL_BATCH: usize = 256;
/// How often a store that only writes reads the encryption record again, to learn that a rekey
/// began (and seal under its new value key): a rekey waits twice this before its last look.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// A store whose names are hashed and values sealed; see the module doc.
#[derive(Debug)]
pub struct Sealed<S> {
    inner: S,
    keys: StoreKeys,
    /// The key this store was opened with, to read the record again after a rekey.
    user_key: UserKey,
    /// The record `keys` came from, as last read.
    record: Vec<u8>,
    /// Whether that record has two keys: a rekey runs.
    rekeying: bool,
    /// Whether that record no longer opens with `user_key` (a rekey finished since this store
    /// was opened): the keys already held still work, but no newer one can be learnt.
    key_dropped: bool,
    /// Hashed sessions this process owns whose values it re-sealed under the current value key.
    resealed: HashSet<String>,
    /// When the record was last read.
    refreshed_at: Instant,
    /// Hashed sessions whose name record is known to be in the store.
    named: HashSet<String>,
    /// The issue times of the group about to be written (see [`Store::group_issued`]).
    group_issued: Vec<Instant>,
}

/// What [`Sealed::open`] found the store to be, before it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// It was encrypted already.
    Encrypted,
    /// It was empty, and is now encrypted with the caller's key.
    Created,
}

impl<S: Store> Sealed<S> {
    /// Opens an encrypted store with `key`, or encrypts an empty one with it (with `create`).
    /// A store holding plain sessions or leases is refused (`ERR_STORE_KEY`, nothing written):
    /// it must be converted whole (`encrypt`), never mixed.
    pub fn open(mut inner: S, key: &UserKey, create: bool) -> Result<(Self, Found)> {
        // The record kept is the one unlocked, never a second read: a rekey beginning in
        // between would leave these keys beside a newer record, which `refresh` would then
        // take for known.
        let (keys, found, record) = match inner.meta(RECORD_NAME)? {
            Some(bytes) => (record::unlock(&bytes, key)?, Found::Encrypted, bytes),
            None => {
                if !create {
                    return Err(StoreError::Key("this store is not encrypted: open it without a key".into()));
                }
                if !inner.sessions()?.is_empty() || !inner.leases()?.is_empty() {
                    return Err(StoreError::Key(
                        "this store is not encrypted and holds sessions: open it without encryption, or convert it first (`baileys-rust-auth encrypt`, docs/encryption.md, \"Converting a whole store\")".into(),
                    ));
                }
                let (bytes, keys) = record::create(key)?;
                if inner.swap_meta(RECORD_NAME, None, Some(&bytes))? {
                    (keys, Found::Created, bytes)
                } else {
                    // Another process encrypted it meanwhile: its keys are the store's.
                    let theirs =
                        inner.meta(RECORD_NAME)?.ok_or_else(|| StoreError::Io("the store's encryption record came and went".into()))?;
                    (record::unlock(&theirs, key)?, Found::Encrypted, theirs)
                }
            }
        };
        let rekeying = record::slot_count(&record)? > 1;
        let store = Sealed {
            inner,
            keys,
            user_key: key.clone(),
            record,
            rekeying,
            key_dropped: false,
            resealed: HashSet::new(),
            refreshed_at: Instant::now(),
            named: HashSet::new(),
            group_issued: Vec::new(),
        };
        Ok((store, found))
    }

    /// Reads the encryption record again and takes up the value keys a rekey added since, so
    /// that values sealed under them open here and this process's writes use the newest. A
    /// record this process's key no longer opens (a rekey finished and dropped it) leaves it
    /// with the keys it holds.
    fn refresh(&mut self) -> Result<()> {
        let bytes = self
            .inner
            .meta(RECORD_NAME)?
            .ok_or_else(|| StoreError::corrupt("the store's encryption record is gone: it was deleted by hand"))?;
        self.refreshed_at = Instant::now();
        if bytes == self.record {
            return Ok(());
        }
        let rekeying = record::slot_count(&bytes)? > 1;
        match record::unlock(&bytes, &self.user_key) {
            Ok(keys) if keys.same_store(&self.keys) => {
                self.keys = keys;
                self.resealed.clear();
            }
            Ok(_) => return Err(StoreError::corrupt("the store's encryption record was replaced by another store's")),
            Err(StoreError::Key(_)) => self.key_dropped = true,
            Err(e) => return Err(e),
        }
        self.record = bytes;
        self.rekeying = rekeying;
        Ok(())
    }

    /// Whether the backend session `name` has creds or keys: one stats call, never a listing of
    /// its keys (a rekey or a conversion lists them next anyway).
    fn holds_data(&mut self, name: &str) -> Result<bool> {
        let stats = self.inner.stats(name)?;
        Ok(stats.creds_bytes.is_some() || stats.kinds.iter().any(|k| k.count > 0))
    }

    /// Before a write: reads the record again if it was last read [`REFRESH_EVERY`] ago, so that
    /// a store that only writes learns of a rekey too. A failure is the write's to meet.
    fn refresh_if_due(&mut self) {
        if self.refreshed_at.elapsed() >= REFRESH_EVERY {
            let _ = self.refresh();
        }
    }

    /// Makes sure the keys held open every one of `envelopes`: one sealed under a value key
    /// this process does not know yet (a rekey began since it opened the store) makes it read
    /// the record again.
    fn learn<'v>(&mut self, mut envelopes: impl Iterator<Item = &'v [u8]>) -> Result<()> {
        if envelopes.all(|e| self.keys.knows(e)) {
            return Ok(());
        }
        self.refresh()?;
        if self.key_dropped {
            return Err(StoreError::Key(
                "the store was rekeyed since it was opened here and its old key no longer opens it: restart with the new key".into(),
            ));
        }
        Ok(())
    }

    /// What an owner does when it takes or renews leases: it reads the record again (so it
    /// writes under the newest value key), and while a rekey runs it re-seals the values of
    /// the sessions it owns, which the rekey cannot touch. Failures are left for the next
    /// renewal: they never fail the lease.
    fn after_leases(&mut self, owned: &[(String, Fence)]) {
        if self.refresh().is_err() || !self.rekeying {
            return;
        }
        for (hashed, fence) in owned {
            if !self.resealed.contains(hashed) && matches!(self.reseal(hashed, Some(fence), None), Ok((_, 0))) {
                self.resealed.insert(hashed.clone());
            }
        }
    }

    /// Re-seals the values of a session (hashed) that an older value key sealed, as the owner
    /// `fence` names (renewing the lease for `renew_ms` between batches when given); without a
    /// fence, only counts them. The name record is re-sealed either way (it is swapped, never
    /// overwritten). Returns the values re-sealed and those left.
    fn reseal(&mut self, hashed: &str, fence: Option<&Fence>, renew_ms: Option<u64>) -> Result<(u64, u64)> {
        let current = self.keys.current();
        let stale = |value: &[u8]| key_id_of(value) != Some(current);
        let (mut resealed, mut left) = (0u64, 0u64);
        let record_name = format!("{NAME_RECORD}{hashed}");
        if let Some(name) = self.inner.meta(&record_name)?.filter(|name| stale(name)) {
            let place = Place::SessionName { session: hashed };
            let fresh = self.keys.reseal(place, &name, &|| format!("the name of the stored session {hashed}"))?;
            if self.inner.swap_meta(&record_name, Some(&name), Some(&fresh))? {
                resealed += 1;
            } else {
                left += 1;
            }
        }
        if let Some(creds) = self.inner.get_creds(hashed)?.filter(|creds| stale(creds)) {
            match fence {
                Some(fence) => {
                    let fresh = self.keys.reseal(Place::Creds { session: hashed }, &creds, &|| format!("the creds of session {hashed}"))?;
                    self.inner.set_creds(hashed, &fresh, Some(fence))?;
                    resealed += 1;
                }
                None => left += 1,
            }
        }
        let listed = self.inner.list_keys(hashed)?;
        let mut start = 0;
        while start < listed.len() {
            let kind = listed[start].kind.clone();
            let end = (start + listed[start..].iter().take_while(|k| k.kind == kind).count()).min(start + RESEAL_BATCH);
            let ids: Vec<String> = listed[start..end].iter().map(|k| k.id.clone()).collect();
            start = end;
            let values = self.inner.get_keys(hashed, &kind, &ids)?;
            let mut writes = Vec::new();
            for (id, value) in ids.into_iter().zip(values) {
                let Some(value) = value.filter(|value| stale(value)) else { continue };
                if fence.is_none() {
                    left += 1;
                    continue;
                }
                let place = Place::Key { session: hashed, kind: &kind, id: &id };
                let fresh = self.keys.reseal(place, &value, &|| format!("a value of {kind:?} in session {hashed}"))?;
                writes.push(KeyWrite { kind: kind.clone(), id, value: Some(fresh) });
            }
            if let (Some(fence), false) = (fence, writes.is_empty()) {
                self.inner.apply(hashed, &writes, Some(fence))?;
                resealed += writes.len() as u64;
                if let Some(ms) = renew_ms {
                    self.inner.renew_lease(hashed, fence, ms)?;
                }
            }
        }
        Ok((resealed, left))
    }

    /// Writes the session's sealed name record unless it is known to be there: before a
    /// session's first write or lease, so that a listing can always name it.
    fn name(&mut self, session: &str) -> Result<String> {
        let hashed = self.keys.session_name(session);
        if self.named.contains(&hashed) {
            return Ok(hashed);
        }
        let record_name = format!("{NAME_RECORD}{hashed}");
        let stored = match self.inner.meta(&record_name)? {
            Some(stored) => stored,
            None => {
                let sealed = self.keys.seal(Place::SessionName { session: &hashed }, session.as_bytes())?;
                if self.inner.swap_meta(&record_name, None, Some(&sealed)).map_err(|e| renamed(e, &hashed, session))? {
                    sealed
                } else {
                    self.inner.meta(&record_name)?.unwrap_or(sealed)
                }
            }
        };
        self.learn(std::iter::once(stored.as_slice()))?;
        let name = self.open_name(&hashed, &stored)?;
        if name != session {
            return Err(StoreError::corrupt(format!("the name record of session {session:?} names another session")));
        }
        self.named.insert(hashed.clone());
        Ok(hashed)
    }

    fn open_name(&self, hashed: &str, sealed: &[u8]) -> Result<String> {
        let what = || format!("the name of the stored session {hashed}");
        let bytes = self.keys.open(Place::SessionName { session: hashed }, sealed, &what)?;
        String::from_utf8(bytes).map_err(|_| StoreError::corrupt(format!("{} is not UTF-8", what())))
    }

    /// The real name of a hashed session, from its name record.
    fn session_of(&mut self, hashed: &str) -> Result<String> {
        if !is_hashed(hashed, HASHED_SESSION_CHARS) {
            return Err(StoreError::corrupt(format!(
                "the encrypted store holds a session that is not encrypted ({} bytes of name): it was written without the key (run `baileys-rust-auth encrypt` again to encrypt it)",
                hashed.len()
            )));
        }
        let sealed = self
            .inner
            .meta(&format!("{NAME_RECORD}{hashed}"))?
            .ok_or_else(|| StoreError::corrupt(format!("the stored session {hashed} has no name record")))?;
        self.learn(std::iter::once(sealed.as_slice()))?;
        self.open_name(hashed, &sealed)
    }

    /// A key batch as the backend stores it.
    fn seal_batch(&self, hashed: &str, writes: &[KeyWrite]) -> Result<Vec<KeyWrite>> {
        writes
            .iter()
            .map(|write| {
                let id = self.keys.key_name(hashed, &write.kind, &write.id);
                let value = match &write.value {
                    Some(value) => {
                        let mut plaintext = Vec::with_capacity(write.id.len() + 2 + value.len());
                        varint::write(&mut plaintext, write.id.len() as u64);
                        plaintext.extend_from_slice(write.id.as_bytes());
                        plaintext.extend_from_slice(value);
                        Some(self.keys.seal(Place::Key { session: hashed, kind: &write.kind, id: &id }, &plaintext)?)
                    }
                    None => None,
                };
                Ok(KeyWrite { kind: write.kind.clone(), id, value })
            })
            .collect()
    }

    /// Opens a stored key's value, returning the id sealed in it and the value.
    fn open_key(
        &self,
        session: &str,
        hashed: &str,
        kind: &str,
        stored_id: &str,
        sealed: &[u8],
        id: Option<&str>,
    ) -> Result<(String, Vec<u8>)> {
        let what = || match id {
            Some(id) => format!("the value of {kind:?} {id:?} in session {session:?}"),
            None => format!("a value of {kind:?} in session {session:?}"),
        };
        let plaintext = self.keys.open(Place::Key { session: hashed, kind, id: stored_id }, sealed, &what)?;
        let mut pos = 0;
        let len = varint::read(&plaintext, &mut pos).ok().map(|n| n as usize);
        let end = len.and_then(|len| pos.checked_add(len)).filter(|&end| end <= plaintext.len());
        let Some(end) = end else { return Err(StoreError::corrupt(format!("{} holds a malformed id", what()))) };
        let sealed_id = std::str::from_utf8(&plaintext[pos..end])
            .map_err(|_| StoreError::corrupt(format!("{} holds an id that is not UTF-8", what())))?;
        if id.is_some_and(|id| id != sealed_id) {
            return Err(StoreError::corrupt(format!("{} holds another id", what())));
        }
        Ok((sealed_id.to_owned(), plaintext[end..].to_vec()))
    }
}

impl<S: Store> CipherControl for Sealed<S> {
    fn rekey_begin(&mut self, new: &UserKey) -> Result<RekeyStart> {
        self.refresh()?;
        match record::unlock_slot(&self.record, new) {
            // A rekey from this key to another one runs: resuming it to this key would drop
            // the other.
            Ok((_, 0)) if self.rekeying => return Err(another_rekey()),
            // Begun already (an interrupted rekey resumes), or finished.
            Ok((keys, _)) if keys.same_store(&self.keys) => {
                self.keys = keys;
                return Ok(if self.rekeying { RekeyStart::Resumed } else { RekeyStart::OnlyKey });
            }
            Ok(_) => return Err(StoreError::corrupt("the store's encryption record holds another store's keys")),
            Err(StoreError::Key(_)) if self.rekeying => return Err(another_rekey()),
            Err(StoreError::Key(_)) => {}
            Err(e) => return Err(e),
        }
        if self.key_dropped {
            return Err(StoreError::Key("the key this store was opened with no longer opens it: another rekey finished".into()));
        }
        let keys = self.keys.with_new_value_key()?;
        let bytes = record::write(&keys, &[&self.user_key, new])?;
        if !self.inner.swap_meta(RECORD_NAME, Some(&self.record), Some(&bytes))? {
            return Err(StoreError::Io(
                "the store's encryption record changed as this rekey began (another rekey runs?): run it again".into(),
            ));
        }
        self.keys = keys;
        self.record = bytes;
        self.rekeying = true;
        self.resealed.clear();
        Ok(RekeyStart::Begun)
    }

    fn rekey_session(&mut self, session: &str, request: &LeaseRequest) -> Result<SessionRekey> {
        let hashed = self.keys.session_name(session);
        self.refresh()?;
        self.rekey_hashed(&hashed, request).map_err(|e| renamed(e, &hashed, session))
    }

    fn rekey_finish(&mut self, new: &UserKey) -> Result<()> {
        self.refresh()?;
        let (keys, position) = record::unlock_slot(&self.record, new)?;
        if self.rekeying && position != 1 {
            return Err(another_rekey());
        }
        if record::slot_count(&self.record)? > 1 {
            let bytes = record::write(&keys, &[new])?;
            if !self.inner.swap_meta(RECORD_NAME, Some(&self.record), Some(&bytes))? {
                return Err(StoreError::Io("the store's encryption record changed as this rekey finished: run it again".into()));
            }
            self.record = bytes;
        }
        self.keys = keys;
        self.user_key = new.clone();
        self.rekeying = false;
        self.key_dropped = false;
        Ok(())
    }
}

impl<S: Store> Sealed<S> {
    /// [`CipherControl::rekey_session`] of a hashed session.
    fn rekey_hashed(&mut self, hashed: &str, request: &LeaseRequest) -> Result<SessionRekey> {
        // A session without creds or keys (deleted, or only ever leased) has nothing to re-seal
        // but its name: taking its lease would bring it back into the listings.
        if !self.holds_data(hashed)? {
            let (resealed, stale) = self.reseal(hashed, None, None)?;
            return Ok(SessionRekey { resealed, stale, owner: None });
        }
        let outcome = match self.inner.acquire_lease(hashed, request) {
            Ok(info) => {
                let fence = info.fence();
                let done = self.reseal(hashed, Some(&fence), Some(request.lease_ms));
                let released = self.inner.release_lease(hashed, &fence);
                let (resealed, stale) = done?;
                released?;
                SessionRekey { resealed, stale, owner: None }
            }
            Err(StoreError::SessionLocked { owner, .. }) => {
                let (resealed, stale) = self.reseal(hashed, None, None)?;
                SessionRekey { resealed, stale, owner: Some(owner) }
            }
            Err(e) => return Err(e),
        };
        Ok(outcome)
    }
}

/// The refusal of a rekey while another one, to another key, runs.
fn another_rekey() -> StoreError {
    StoreError::invalid(
        "another rekey, from this store's key to another new key, runs on this store: finish it first (run it again with its new key), then rekey again",
    )
}

/// A backend error about a hashed session, told with the session's own name.
fn renamed(err: StoreError, hashed: &str, session: &str) -> StoreError {
    let fix = |message: String| message.replace(&format!("{hashed:?}"), &format!("{session:?}")).replace(hashed, session);
    match err {
        StoreError::InvalidArg(m) => StoreError::InvalidArg(fix(m)),
        StoreError::Corrupt(m) => StoreError::Corrupt(fix(m)),
        StoreError::NotFound(m) => StoreError::NotFound(fix(m)),
        StoreError::Io(m) => StoreError::Io(fix(m)),
        StoreError::Unavailable(m) => StoreError::Unavailable(fix(m)),
        StoreError::SessionLocked { owner, .. } => StoreError::SessionLocked { session: session.to_owned(), owner },
        StoreError::SessionFenced(m) => StoreError::SessionFenced(fix(m)),
        StoreError::Unsupported(m) => StoreError::Unsupported(fix(m)),
        StoreError::Key(m) => StoreError::Key(fix(m)),
        other => other,
    }
}

/// A write of a group as the backend stores it.
enum SealedWrite<'a> {
    Creds { session: String, creds: Vec<u8>, fence: Option<&'a Fence> },
    Keys { session: String, writes: Vec<KeyWrite>, fence: Option<&'a Fence> },
}

impl<S: Store> Store for Sealed<S> {
    fn get_creds(&mut self, session: &str) -> Result<Option<Vec<u8>>> {
        let hashed = self.keys.session_name(session);
        let Some(sealed) = self.inner.get_creds(&hashed).map_err(|e| renamed(e, &hashed, session))? else { return Ok(None) };
        self.learn(std::iter::once(sealed.as_slice()))?;
        let what = || format!("the creds of session {session:?}");
        self.keys.open(Place::Creds { session: &hashed }, &sealed, &what).map(Some)
    }

    fn set_creds(&mut self, session: &str, creds: &[u8], fence: Option<&Fence>) -> Result<()> {
        self.refresh_if_due();
        let hashed = self.name(session)?;
        let sealed = self.keys.seal(Place::Creds { session: &hashed }, creds)?;
        self.inner.set_creds(&hashed, &sealed, fence).map_err(|e| renamed(e, &hashed, session))
    }

    fn get_keys(&mut self, session: &str, kind: &str, ids: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let hashed = self.keys.session_name(session);
        let stored_ids: Vec<String> = ids.iter().map(|id| self.keys.key_name(&hashed, kind, id)).collect();
        let values = self.inner.get_keys(&hashed, kind, &stored_ids).map_err(|e| renamed(e, &hashed, session))?;
        self.learn(values.iter().flatten().map(Vec::as_slice))?;
        ids.iter()
            .zip(&stored_ids)
            .zip(values)
            .map(|((id, stored_id), value)| match value {
                Some(sealed) => self.open_key(session, &hashed, kind, stored_id, &sealed, Some(id)).map(|(_, value)| Some(value)),
                None => Ok(None),
            })
            .collect()
    }

    fn apply(&mut self, session: &str, writes: &[KeyWrite], fence: Option<&Fence>) -> Result<()> {
        self.refresh_if_due();
        let hashed = if writes.iter().any(|w| w.value.is_some()) { self.name(session)? } else { self.keys.session_name(session) };
        let sealed = self.seal_batch(&hashed, writes)?;
        self.inner.apply(&hashed, &sealed, fence).map_err(|e| renamed(e, &hashed, session))
    }

    fn clear_keys(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        let hashed = self.keys.session_name(session);
        self.inner.clear_keys(&hashed, fence).map_err(|e| renamed(e, &hashed, session))
    }

    fn delete_session(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        let hashed = self.keys.session_name(session);
        self.inner.delete_session(&hashed, fence).map_err(|e| renamed(e, &hashed, session))
    }

    fn acquire_lease(&mut self, session: &str, request: &LeaseRequest) -> Result<LeaseInfo> {
        let hashed = self.name(session)?;
        let info = self.inner.acquire_lease(&hashed, request).map_err(|e| renamed(e, &hashed, session))?;
        self.after_leases(&[(hashed, info.fence())]);
        Ok(info)
    }

    fn renew_lease(&mut self, session: &str, fence: &Fence, lease_ms: u64) -> Result<LeaseInfo> {
        let hashed = self.keys.session_name(session);
        let info = self.inner.renew_lease(&hashed, fence, lease_ms).map_err(|e| renamed(e, &hashed, session))?;
        self.after_leases(&[(hashed, fence.clone())]);
        Ok(info)
    }

    fn acquire_leases(&mut self, requests: &[(String, LeaseRequest)]) -> Result<Vec<Result<LeaseInfo>>> {
        let mut hashed = Vec::with_capacity(requests.len());
        for (session, request) in requests {
            hashed.push((self.name(session)?, request.clone()));
        }
        let granted = self.inner.acquire_leases(&hashed)?;
        let owned: Vec<(String, Fence)> =
            hashed.iter().zip(&granted).filter_map(|((h, _), r)| r.as_ref().ok().map(|info| (h.clone(), info.fence()))).collect();
        self.after_leases(&owned);
        Ok(granted
            .into_iter()
            .zip(requests.iter().zip(&hashed))
            .map(|(r, ((session, _), (h, _)))| r.map_err(|e| renamed(e, h, session)))
            .collect())
    }

    fn renew_leases(&mut self, leases: &[(String, Fence)], lease_ms: u64) -> Result<Vec<Result<LeaseInfo>>> {
        let hashed: Vec<(String, Fence)> = leases.iter().map(|(session, fence)| (self.keys.session_name(session), fence.clone())).collect();
        let renewed = self.inner.renew_leases(&hashed, lease_ms)?;
        let owned: Vec<(String, Fence)> =
            hashed.iter().zip(&renewed).filter(|(_, r)| r.is_ok()).map(|((h, fence), _)| (h.clone(), fence.clone())).collect();
        self.after_leases(&owned);
        Ok(renewed
            .into_iter()
            .zip(leases.iter().zip(&hashed))
            .map(|(r, ((session, _), (h, _)))| r.map_err(|e| renamed(e, h, session)))
            .collect())
    }

    fn release_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        let hashed = self.keys.session_name(session);
        self.inner.release_lease(&hashed, fence).map_err(|e| renamed(e, &hashed, session))
    }

    fn forget_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        let hashed = self.keys.session_name(session);
        self.inner.forget_lease(&hashed, fence).map_err(|e| renamed(e, &hashed, session))
    }

    fn lease(&mut self, session: &str) -> Result<Option<LeaseInfo>> {
        let hashed = self.keys.session_name(session);
        self.inner.lease(&hashed).map_err(|e| renamed(e, &hashed, session))
    }

    fn leases(&mut self) -> Result<Vec<(String, LeaseInfo)>> {
        let mut named = Vec::new();
        for (hashed, info) in self.inner.leases()? {
            named.push((self.session_of(&hashed)?, info));
        }
        named.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        Ok(named)
    }

    fn sessions(&mut self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for hashed in self.inner.sessions()? {
            names.push(self.session_of(&hashed)?);
        }
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Ok(names)
    }

    /// The records of the store under this layer are the layer's own: nothing above sees them.
    fn meta(&mut self, _name: &str) -> Result<Option<Vec<u8>>> {
        Err(StoreError::Unsupported("the records of an encrypted store are its encryption layer's".into()))
    }

    fn swap_meta(&mut self, _name: &str, _expected: Option<&[u8]>, _value: Option<&[u8]>) -> Result<bool> {
        Err(StoreError::Unsupported("the records of an encrypted store are its encryption layer's".into()))
    }

    fn operation_issued(&mut self, at: Instant) {
        self.inner.operation_issued(at)
    }

    fn group_issued(&mut self, at: &[Instant]) {
        self.group_issued = at.to_vec();
    }

    /// Opens every value of the session to learn its id (the backend only holds hashes): a
    /// listing costs a read of the session.
    fn list_keys(&mut self, session: &str) -> Result<Vec<KeyInfo>> {
        let hashed = self.keys.session_name(session);
        let stored = self.inner.list_keys(&hashed).map_err(|e| renamed(e, &hashed, session))?;
        let mut listed = Vec::with_capacity(stored.len());
        let mut start = 0;
        while start < stored.len() {
            let kind = stored[start].kind.clone();
            let end = start + stored[start..].iter().take_while(|k| k.kind == kind).count();
            let ids: Vec<String> = stored[start..end].iter().map(|k| k.id.clone()).collect();
            let values = self.inner.get_keys(&hashed, &kind, &ids).map_err(|e| renamed(e, &hashed, session))?;
            self.learn(values.iter().flatten().map(Vec::as_slice))?;
            for (stored_id, value) in ids.iter().zip(values) {
                if !is_hashed(stored_id, HASHED_ID_CHARS) {
                    return Err(StoreError::corrupt(format!("session {session:?} holds a key of {kind:?} that is not encrypted")));
                }
                // A key deleted since the listing is simply not listed.
                if let Some(sealed) = value {
                    let (id, value) = self.open_key(session, &hashed, &kind, stored_id, &sealed, None)?;
                    listed.push(KeyInfo { kind: kind.clone(), id, bytes: value.len() as u64 });
                }
            }
            start = end;
        }
        listed.sort_by(|a, b| (a.kind.as_bytes(), a.id.as_bytes()).cmp(&(b.kind.as_bytes(), b.id.as_bytes())));
        Ok(listed)
    }

    /// Counted from the opened values, as a plain store counts them (the backend's own stats
    /// would count sealed bytes): a read of the whole session.
    fn stats(&mut self, session: &str) -> Result<SessionStats> {
        let hashed = self.keys.session_name(session);
        let stored = self.inner.stats(&hashed).map_err(|e| renamed(e, &hashed, session))?;
        let mut kinds: Vec<KindStats> = Vec::new();
        for key in self.list_keys(session)? {
            match kinds.last_mut() {
                Some(last) if last.kind == key.kind => {
                    last.count += 1;
                    last.bytes += key.bytes;
                }
                _ => kinds.push(KindStats { kind: key.kind, count: 1, bytes: key.bytes }),
            }
        }
        let creds_bytes = self.get_creds(session)?.map(|creds| creds.len() as u64);
        Ok(SessionStats { creds_bytes, kinds, updated_at_ms: stored.updated_at_ms })
    }

    fn backup(&mut self, dest: &Path) -> Result<()> {
        self.inner.backup(dest)
    }

    fn check(&mut self) -> Result<Vec<String>> {
        self.inner.check()
    }

    fn identity(&self) -> String {
        self.inner.identity()
    }

    /// The backend holds hashes of a fixed length in place of every name, so any length fits
    /// (but the session's, stored sealed in a record, which has no limit either).
    fn name_limits(&self) -> Option<crate::core::store::NameLimits> {
        None
    }

    fn cipher(&mut self) -> Option<&mut dyn CipherControl> {
        Some(self)
    }

    /// Seals each write; one that cannot be (its name record cannot be written) gets its error
    /// and never reaches the backend, which gets the rest as one group.
    fn write_group(&mut self, group: &[Write<'_>]) -> Vec<Result<()>> {
        self.refresh_if_due();
        let mut results: Vec<Option<Result<()>>> = Vec::with_capacity(group.len());
        let mut sealed: Vec<(usize, SealedWrite<'_>)> = Vec::with_capacity(group.len());
        for (i, write) in group.iter().enumerate() {
            let prepared = match *write {
                Write::Creds { session, creds, fence } => self.name(session).and_then(|hashed| {
                    let creds = self.keys.seal(Place::Creds { session: &hashed }, creds)?;
                    Ok(SealedWrite::Creds { session: hashed, creds, fence })
                }),
                Write::Keys { session, writes, fence } => {
                    let hashed =
                        if writes.iter().any(|w| w.value.is_some()) { self.name(session) } else { Ok(self.keys.session_name(session)) };
                    hashed.and_then(|hashed| Ok(SealedWrite::Keys { writes: self.seal_batch(&hashed, writes)?, session: hashed, fence }))
                }
            };
            match prepared {
                Ok(write) => {
                    sealed.push((i, write));
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        let passed: Vec<Write<'_>> = sealed
            .iter()
            .map(|(_, w)| match w {
                SealedWrite::Creds { session, creds, fence } => Write::Creds { session, creds, fence: *fence },
                SealedWrite::Keys { session, writes, fence } => Write::Keys { session, writes, fence: *fence },
            })
            .collect();
        let passed_flags: Vec<bool> = results.iter().map(Option::is_none).collect();
        crate::core::store::pass_group_issued(&mut self.inner, std::mem::take(&mut self.group_issued), &passed_flags);
        let applied = self.inner.write_group(&passed);
        for ((i, write), result) in sealed.iter().zip(applied) {
            let hashed = match write {
                SealedWrite::Creds { session, .. } | SealedWrite::Keys { session, .. } => session,
            };
            let session = match group[*i] {
                Write::Creds { session, .. } | Write::Keys { session, .. } => session,
            };
            results[*i] = Some(result.map_err(|e| renamed(e, hashed, session)));
        }
        results.into_iter().map(|r| r.unwrap_or_else(|| Err(StoreError::Io("no result for a write".into())))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::lease::Claim;
    use crate::core::memory::MemoryStore;
    use crate::core::sqlite::SqliteStore;

    fn key(byte: u8) -> UserKey {
        UserKey::from_bytes(&[byte; 32]).unwrap()
    }

    fn put(kind: &str, id: &str, value: &[u8]) -> KeyWrite {
        KeyWrite { kind: kind.into(), id: id.into(), value: Some(value.to_vec()) }
    }

    #[test]
    fn the_backend_holds_no_name_and_no_value_in_the_clear() {
        let (mut store, found) = Sealed::open(MemoryStore::new(), &key(1), true).unwrap();
        assert_eq!(found, Found::Created);
        store.set_creds("alice-session", b"creds-bytes", None).unwrap();
        store.apply("alice-session", &[put("session", "4915551234.0", b"signal-session")], None).unwrap();
        assert_eq!(store.get_creds("alice-session").unwrap().as_deref(), Some(&b"creds-bytes"[..]));
        assert_eq!(
            store.get_keys("alice-session", "session", &["4915551234.0".into(), "x".into()]).unwrap(),
            vec![Some(b"signal-session".to_vec()), None]
        );
        assert_eq!(store.sessions().unwrap(), vec!["alice-session".to_string()]);
        assert_eq!(
            store.list_keys("alice-session").unwrap(),
            vec![KeyInfo { kind: "session".into(), id: "4915551234.0".into(), bytes: 14 }]
        );
        let mut backend = store.inner;
        let hashed = backend.sessions().unwrap();
        assert_eq!(hashed.len(), 1);
        assert!(!hashed[0].contains("alice"));
        let listed = backend.list_keys(&hashed[0]).unwrap();
        assert!(!listed[0].id.contains("4915551234"));
        let raw = backend.get_keys(&hashed[0], "session", &[listed[0].id.clone()]).unwrap().remove(0).unwrap();
        assert!(!raw.windows(14).any(|w| w == b"signal-session"));
        assert!(!backend.get_creds(&hashed[0]).unwrap().unwrap().windows(11).any(|w| w == b"creds-bytes"));
    }

    #[test]
    fn the_store_opens_again_with_its_key_and_refuses_another() {
        let (mut store, _) = Sealed::open(MemoryStore::new(), &key(1), true).unwrap();
        store.set_creds("s", b"c", None).unwrap();
        let (mut again, found) = Sealed::open(store.inner, &key(1), true).unwrap();
        assert_eq!(found, Found::Encrypted);
        assert_eq!(again.get_creds("s").unwrap().as_deref(), Some(&b"c"[..]));
        assert_eq!(Sealed::open(again.inner, &key(2), true).unwrap_err().code(), "ERR_STORE_KEY");
    }

    #[test]
    fn a_plain_store_with_sessions_is_never_encrypted_in_place() {
        let mut plain = MemoryStore::new();
        plain.set_creds("s", b"c", None).unwrap();
        assert_eq!(Sealed::open(plain, &key(1), true).unwrap_err().code(), "ERR_STORE_KEY");
    }

    #[test]
    fn swapped_rows_and_unsealed_values_are_corrupt_and_named() {
        let (mut store, _) = Sealed::open(MemoryStore::new(), &key(1), true).unwrap();
        store.apply("s", &[put("pre-key", "1", b"one"), put("pre-key", "2", b"two")], None).unwrap();
        let hashed = store.keys.session_name("s");
        let (h1, h2) = (store.keys.key_name(&hashed, "pre-key", "1"), store.keys.key_name(&hashed, "pre-key", "2"));
        let values = store.inner.get_keys(&hashed, "pre-key", &[h1.clone(), h2.clone()]).unwrap();
        let swap = [
            KeyWrite { kind: "pre-key".into(), id: h1, value: values[1].clone() },
            KeyWrite { kind: "pre-key".into(), id: h2, value: values[0].clone() },
        ];
        store.inner.apply(&hashed, &swap, None).unwrap();
        let err = store.get_keys("s", "pre-key", &["1".into()]).unwrap_err();
        assert_eq!(err.code(), "ERR_STORE_CORRUPT");
        assert!(err.to_string().contains("\"pre-key\" \"1\" in session \"s\""), "{err}");
        assert!(!err.to_string().contains("one") && !err.to_string().contains("two"));
        store.inner.set_creds(&hashed, b"\x01plain", None).unwrap();
        assert_eq!(store.get_creds("s").unwrap_err().code(), "ERR_STORE_CORRUPT");
    }

    fn request() -> LeaseRequest {
        LeaseRequest::new(5000, Claim::Refuse, "rekey-test")
    }

    /// The value key ids of everything the backend holds: name records, creds, key values.
    fn key_ids<S: Store>(backend: &mut S) -> Vec<u32> {
        let mut ids = Vec::new();
        for hashed in backend.sessions().unwrap() {
            ids.extend(backend.meta(&format!("{NAME_RECORD}{hashed}")).unwrap().and_then(|v| key_id_of(&v)));
            ids.extend(backend.get_creds(&hashed).unwrap().and_then(|v| key_id_of(&v)));
            for key in backend.list_keys(&hashed).unwrap() {
                let value = backend.get_keys(&hashed, &key.kind, std::slice::from_ref(&key.id)).unwrap().remove(0).unwrap();
                ids.push(key_id_of(&value).expect("sealed"));
            }
        }
        ids
    }

    #[test]
    fn a_rekey_reseals_every_value_and_leaves_the_new_key_the_only_one() {
        let (mut store, _) = Sealed::open(MemoryStore::new(), &key(1), true).unwrap();
        store.set_creds("s", b"creds", None).unwrap();
        let many: Vec<KeyWrite> = (0..300).map(|i| put("pre-key", &i.to_string(), format!("value {i}").as_bytes())).collect();
        store.apply("s", &many, None).unwrap();
        store.apply("t", &[put("session", "a", b"t's")], None).unwrap();
        let before = store.keys.current();
        assert_eq!(store.rekey_begin(&key(2)).unwrap(), RekeyStart::Begun);
        assert_eq!(store.rekey_begin(&key(2)).unwrap(), RekeyStart::Resumed, "a second begin resumes");
        for other in [key(1), key(3)] {
            // Back to the old key, or to a third: either would drop the running rekey's new key.
            assert_eq!(store.rekey_begin(&other).unwrap_err().code(), "ERR_INVALID_ARG");
        }
        assert_eq!(store.rekey_finish(&key(1)).unwrap_err().code(), "ERR_INVALID_ARG", "the old key cannot finish it");
        assert_eq!(store.rekey_finish(&key(3)).unwrap_err().code(), "ERR_STORE_KEY", "nor a key it does not hold");
        assert_ne!(store.keys.current(), before);
        store.apply("s", &[put("session", "x", b"written during the rekey")], None).unwrap();
        let s = store.rekey_session("s", &request()).unwrap();
        assert_eq!(
            s,
            SessionRekey { resealed: 1 + 1 + 300, stale: 0, owner: None },
            "name, creds and 300 keys; the new write was sealed new"
        );
        assert_eq!(store.rekey_session("t", &request()).unwrap(), SessionRekey { resealed: 2, stale: 0, owner: None });
        assert_eq!(store.rekey_session("s", &request()).unwrap().resealed, 0, "nothing left to re-seal");
        store.rekey_finish(&key(2)).unwrap();
        assert_eq!(store.rekey_begin(&key(2)).unwrap(), RekeyStart::OnlyKey);
        let current = store.keys.current();
        let mut backend = store.inner;
        assert!(key_ids(&mut backend).iter().all(|id| *id == current), "every value under the new value key");
        let (mut again, _) = Sealed::open(backend, &key(2), false).unwrap();
        assert_eq!(again.get_keys("s", "pre-key", &["299".into()]).unwrap(), vec![Some(b"value 299".to_vec())]);
        assert_eq!(again.get_creds("s").unwrap().as_deref(), Some(&b"creds"[..]));
        assert_eq!(Sealed::open(again.inner, &key(1), false).unwrap_err().code(), "ERR_STORE_KEY");
    }

    #[test]
    fn the_old_key_still_opens_the_store_until_the_rekey_finishes_and_reads_what_the_new_key_wrote() {
        let path = std::env::temp_dir().join(format!("bra-rekey-{}-{}.db", std::process::id(), line!()));
        let _ = std::fs::remove_file(&path);
        let open = |k: u8| Sealed::open(SqliteStore::open_with(&path, true).unwrap(), &key(k), true).map(|(s, _)| s);
        let mut app = open(1).unwrap();
        app.set_creds("bot", b"creds", None).unwrap();
        app.apply("bot", &[put("pre-key", "1", b"one")], None).unwrap();
        let mut tool = open(1).unwrap();
        assert_eq!(tool.rekey_begin(&key(2)).unwrap(), RekeyStart::Begun);
        // The app, opened before, reads what the rekey re-sealed: it learns the new value key.
        assert_eq!(tool.rekey_session("bot", &request()).unwrap().stale, 0);
        assert_eq!(app.get_keys("bot", "pre-key", &["1".into()]).unwrap(), vec![Some(b"one".to_vec())]);
        assert_eq!(app.keys.current(), tool.keys.current(), "and writes under it from then on");
        // While the rekey runs, both keys open the store.
        let mut with_new = open(2).unwrap();
        assert_eq!(with_new.get_creds("bot").unwrap().as_deref(), Some(&b"creds"[..]));
        assert!(open(1).is_ok());
        tool.rekey_finish(&key(2)).unwrap();
        assert_eq!(open(1).err().map(|e| e.code()), Some("ERR_STORE_KEY"));
        assert_eq!(open(2).unwrap().get_keys("bot", "pre-key", &["1".into()]).unwrap(), vec![Some(b"one".to_vec())]);
        // The app keeps working with the keys it holds.
        app.apply("bot", &[put("pre-key", "2", b"two")], None).unwrap();
        assert_eq!(with_new.get_keys("bot", "pre-key", &["2".into()]).unwrap(), vec![Some(b"two".to_vec())]);
        drop((app, tool, with_new));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn an_owner_reseals_its_own_sessions_when_it_renews_and_the_rekey_only_counts_them() {
        let path = std::env::temp_dir().join(format!("bra-rekey-{}-{}.db", std::process::id(), line!()));
        let _ = std::fs::remove_file(&path);
        let open = |k: u8| Sealed::open(SqliteStore::open_with(&path, true).unwrap(), &key(k), true).map(|(s, _)| s);
        let mut owner = open(1).unwrap();
        let lease = owner.acquire_lease("bot", &request()).unwrap();
        owner.set_creds("bot", b"creds", Some(&lease.fence())).unwrap();
        owner.apply("bot", &[put("pre-key", "1", b"one"), put("pre-key", "2", b"two")], Some(&lease.fence())).unwrap();
        let mut tool = open(1).unwrap();
        tool.rekey_begin(&key(2)).unwrap();
        let counted = tool.rekey_session("bot", &request()).unwrap();
        assert_eq!((counted.resealed, counted.stale), (1, 3), "the name record is swapped; creds and two keys are the owner's");
        assert_eq!(counted.owner.unwrap().host, "rekey-test");
        owner.renew_leases(&[("bot".into(), lease.fence())], 5000).unwrap().remove(0).unwrap();
        assert_eq!(tool.rekey_session("bot", &request()).unwrap().stale, 0, "the owner re-sealed them when it renewed");
        assert_eq!(
            owner.get_keys("bot", "pre-key", &["1".into(), "2".into()]).unwrap(),
            vec![Some(b"one".to_vec()), Some(b"two".to_vec())]
        );
        drop((owner, tool));
        let _ = std::fs::remove_file(&path);
    }
}
