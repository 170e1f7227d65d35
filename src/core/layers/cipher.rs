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
use std::time::Instant;

use crate::core::cipher::record::{self, RECORD_NAME};
use crate::core::cipher::seal::{is_hashed, HASHED_ID_CHARS, HASHED_SESSION_CHARS};
use crate::core::cipher::{Place, StoreKeys, UserKey};
use crate::core::error::{Result, StoreError};
use crate::core::lease::{Fence, LeaseInfo, LeaseRequest};
use crate::core::store::{KeyInfo, KeyWrite, KindStats, SessionStats, Store, Write};
use crate::core::varint;

/// The prefix of the store records that hold sealed session names.
const NAME_RECORD: &str = "session:";

/// A store whose names are hashed and values sealed; see the module doc.
#[derive(Debug)]
pub struct Sealed<S> {
    inner: S,
    keys: StoreKeys,
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
        let (keys, found) = match inner.meta(RECORD_NAME)? {
            Some(bytes) => (record::unlock(&bytes, key)?, Found::Encrypted),
            None => {
                if !create {
                    return Err(StoreError::Key("this store is not encrypted: open it without a key".into()));
                }
                if !inner.sessions()?.is_empty() || !inner.leases()?.is_empty() {
                    return Err(StoreError::Key(
                        "this store is not encrypted and holds sessions: open it without encryption, or convert it first (`baileys-rust-auth encrypt`, docs/encryption.md)".into(),
                    ));
                }
                let (bytes, keys) = record::create(key)?;
                if inner.swap_meta(RECORD_NAME, None, Some(&bytes))? {
                    (keys, Found::Created)
                } else {
                    // Another process encrypted it meanwhile: its keys are the store's.
                    let theirs =
                        inner.meta(RECORD_NAME)?.ok_or_else(|| StoreError::Io("the store's encryption record came and went".into()))?;
                    (record::unlock(&theirs, key)?, Found::Encrypted)
                }
            }
        };
        Ok((Sealed { inner, keys, named: HashSet::new(), group_issued: Vec::new() }, found))
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
                "the encrypted store holds a session that is not encrypted ({} bytes of name): it was written without the key",
                hashed.len()
            )));
        }
        let sealed = self
            .inner
            .meta(&format!("{NAME_RECORD}{hashed}"))?
            .ok_or_else(|| StoreError::corrupt(format!("the stored session {hashed} has no name record")))?;
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
        let what = || format!("the creds of session {session:?}");
        self.keys.open(Place::Creds { session: &hashed }, &sealed, &what).map(Some)
    }

    fn set_creds(&mut self, session: &str, creds: &[u8], fence: Option<&Fence>) -> Result<()> {
        let hashed = self.name(session)?;
        let sealed = self.keys.seal(Place::Creds { session: &hashed }, creds)?;
        self.inner.set_creds(&hashed, &sealed, fence).map_err(|e| renamed(e, &hashed, session))
    }

    fn get_keys(&mut self, session: &str, kind: &str, ids: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let hashed = self.keys.session_name(session);
        let stored_ids: Vec<String> = ids.iter().map(|id| self.keys.key_name(&hashed, kind, id)).collect();
        let values = self.inner.get_keys(&hashed, kind, &stored_ids).map_err(|e| renamed(e, &hashed, session))?;
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
        self.inner.acquire_lease(&hashed, request).map_err(|e| renamed(e, &hashed, session))
    }

    fn renew_lease(&mut self, session: &str, fence: &Fence, lease_ms: u64) -> Result<LeaseInfo> {
        let hashed = self.keys.session_name(session);
        self.inner.renew_lease(&hashed, fence, lease_ms).map_err(|e| renamed(e, &hashed, session))
    }

    fn acquire_leases(&mut self, requests: &[(String, LeaseRequest)]) -> Result<Vec<Result<LeaseInfo>>> {
        let mut hashed = Vec::with_capacity(requests.len());
        for (session, request) in requests {
            hashed.push((self.name(session)?, request.clone()));
        }
        let granted = self.inner.acquire_leases(&hashed)?;
        Ok(granted
            .into_iter()
            .zip(requests.iter().zip(&hashed))
            .map(|(r, ((session, _), (h, _)))| r.map_err(|e| renamed(e, h, session)))
            .collect())
    }

    fn renew_leases(&mut self, leases: &[(String, Fence)], lease_ms: u64) -> Result<Vec<Result<LeaseInfo>>> {
        let hashed: Vec<(String, Fence)> = leases.iter().map(|(session, fence)| (self.keys.session_name(session), fence.clone())).collect();
        let renewed = self.inner.renew_leases(&hashed, lease_ms)?;
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

    /// Seals each write; one that cannot be (its name record cannot be written) gets its error
    /// and never reaches the backend, which gets the rest as one group.
    fn write_group(&mut self, group: &[Write<'_>]) -> Vec<Result<()>> {
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
        let issued = std::mem::take(&mut self.group_issued);
        if issued.len() == group.len() {
            let kept: Vec<Instant> = sealed.iter().map(|(i, _)| issued[*i]).collect();
            self.inner.group_issued(&kept);
        }
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
    use crate::core::memory::MemoryStore;

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
}
