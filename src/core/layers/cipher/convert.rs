//! Converting a whole store in place: a plain store encrypted ([`encrypt`]), an encrypted one
//! made plain again ([`decrypt`]); docs/encryption.md, "Converting a whole store".
//!
//! Applications must be stopped: a conversion refuses a store where any session it would move
//! has a live lease (`ERR_SESSION_LOCKED`, naming the owner), before it writes anything. While
//! it runs, the store record [`MARKER`] says which way it goes, and no store opens (the URL
//! factory refuses it with `ERR_STORE_UNAVAILABLE`): an application never sees half a
//! conversion. Each session moves as its temporary owner: the copy under the other name is
//! cleared, written batch by batch, read back and compared, and only then is the old session
//! deleted and its lease record forgotten ([`Store::forget_lease`]), so that no record keeps
//! the old name. Every step can be run again, so a conversion killed anywhere resumes when it
//! is run again.

use std::collections::BTreeMap;

use super::{Sealed, NAME_RECORD, RESEAL_BATCH};
use crate::core::cipher::record::{self, RECORD_NAME};
use crate::core::cipher::seal::{is_hashed, HASHED_SESSION_CHARS};
use crate::core::cipher::UserKey;
use crate::core::error::{Result, StoreError};
use crate::core::lease::{Claim, Fence, LeaseRequest};
use crate::core::store::{KeyInfo, KeyWrite, Store};

/// The store record that says a conversion runs, and which: `encrypt` or `decrypt`.
pub const MARKER: &str = "cipher-conversion";

/// The conversion's own leases: short, so that a conversion killed on a Redis or SQL server
/// store frees its sessions soon (on SQLite the kernel lock frees them at once). Renewed
/// between batches.
const CONVERT_LEASE_MS: u64 = 10_000;

/// How many times an encryption looks again for plain sessions written while it ran.
const MAX_LOOKS: usize = 10;

/// Which way a conversion goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Plain to encrypted.
    Encrypt,
    /// Encrypted to plain.
    Decrypt,
}

impl Conversion {
    /// Its name, as the marker and the CLI spell it.
    pub fn name(self) -> &'static str {
        match self {
            Conversion::Encrypt => "encrypt",
            Conversion::Decrypt => "decrypt",
        }
    }

    pub fn parse(name: &str) -> Option<Conversion> {
        match name {
            "encrypt" => Some(Conversion::Encrypt),
            "decrypt" => Some(Conversion::Decrypt),
            _ => None,
        }
    }

    /// The conversion a marker value names.
    fn of_marker(value: &[u8]) -> Result<Conversion> {
        std::str::from_utf8(value)
            .ok()
            .and_then(Conversion::parse)
            .ok_or_else(|| StoreError::corrupt(format!("the store record {MARKER:?} holds neither \"encrypt\" nor \"decrypt\"")))
    }
}

/// The conversion a store's marker says runs, if any.
pub fn running<S: Store + ?Sized>(store: &mut S) -> Result<Option<Conversion>> {
    store.meta(MARKER)?.map(|value| Conversion::of_marker(&value)).transpose()
}

/// Why a store with a marker does not open: the error the URL factory and the other
/// direction give.
pub fn unfinished(running: Conversion) -> StoreError {
    let (being, command) = match running {
        Conversion::Encrypt => ("encrypted", "encrypt"),
        Conversion::Decrypt => ("decrypted", "decrypt"),
    };
    StoreError::Unavailable(format!("the store is being {being}: run `baileys-rust-auth {command}` again to finish"))
}

/// One session converted: `done` of `total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress<'a> {
    /// The session's id (its real one, never a hash).
    pub session: &'a str,
    pub done: usize,
    pub total: usize,
}

/// What a conversion is told after each session.
pub type OnProgress<'a> = dyn FnMut(&Progress<'_>) + 'a;

/// Takes the lease of every one of `sessions` (backend names), or none: a session with a live
/// lease refuses the whole conversion (`ERR_SESSION_LOCKED` of the first such session, by its
/// backend name), and the leases taken for the others are given back.
fn lease_all<S: Store>(store: &mut S, sessions: &[String], host: &str) -> Result<BTreeMap<String, Fence>> {
    let requests: Vec<(String, LeaseRequest)> =
        sessions.iter().map(|s| (s.clone(), LeaseRequest::new(CONVERT_LEASE_MS, Claim::Refuse, host))).collect();
    let granted = store.acquire_leases(&requests)?;
    let mut fences = BTreeMap::new();
    let mut refused = None;
    for (session, outcome) in sessions.iter().zip(granted) {
        match outcome {
            Ok(info) => {
                fences.insert(session.clone(), info.fence());
            }
            Err(err) => {
                refused.get_or_insert(err);
            }
        }
    }
    match refused {
        Some(err) => {
            release_all(store, &fences);
            Err(err)
        }
        None => Ok(fences),
    }
}

/// Gives back the leases a conversion that failed still holds.
fn release_all<S: Store>(store: &mut S, fences: &BTreeMap<String, Fence>) {
    for (session, fence) in fences {
        let _ = store.release_lease(session, fence);
    }
}

/// The fence of `session`, renewed (the conversion may have taken longer than a lease).
fn renewed<S: Store>(store: &mut S, fences: &BTreeMap<String, Fence>, session: &str) -> Result<Fence> {
    let fence = fences.get(session).cloned().ok_or_else(|| StoreError::Io(format!("no lease held for session {session:?}")))?;
    store.renew_lease(session, &fence, CONVERT_LEASE_MS)?;
    Ok(fence)
}

/// The keys of a session listed, in batches of one type of at most [`RESEAL_BATCH`] ids.
fn batches(listed: &[KeyInfo]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for key in listed {
        match out.last_mut() {
            Some((kind, ids)) if *kind == key.kind && ids.len() < RESEAL_BATCH => ids.push(key.id.clone()),
            _ => out.push((key.kind.clone(), vec![key.id.clone()])),
        }
    }
    out
}

fn mismatch(session: &str, what: &str) -> StoreError {
    StoreError::Io(format!(
        "session {session:?}: {what} read back differ from what was copied (nothing of the session was removed): run the conversion again"
    ))
}

/// Every session and every lease of the backend, sorted, once each.
fn names<S: Store>(store: &mut S) -> Result<(Vec<String>, Vec<String>)> {
    let data = store.sessions()?;
    let mut leased: Vec<String> = store.leases()?.into_iter().map(|(s, _)| s).filter(|s| data.binary_search(s).is_err()).collect();
    leased.sort();
    Ok((data, leased))
}

/// Encrypts a plain store in place with `key` (or resumes an encryption that stopped, or
/// moves the plain sessions a process that had the store open wrote into it since), and
/// returns it opened with the key. A store encrypted already, with nothing plain in it, is
/// only opened, if `key` opens it (else `ERR_STORE_KEY`).
pub fn encrypt<S: Store>(mut inner: S, key: &UserKey, host: &str, progress: &mut OnProgress<'_>) -> Result<Sealed<S>> {
    let running = running(&mut inner)?;
    if running == Some(Conversion::Decrypt) {
        return Err(unfinished(Conversion::Decrypt));
    }
    let marker = Conversion::Encrypt.name().as_bytes();
    // Whether this run set the marker and wrote the record, which it undoes if it is refused
    // before it moved anything.
    let mut began: Option<Vec<u8>> = None;
    let mut marked = false;
    if running.is_none() {
        if let Some(record) = inner.meta(RECORD_NAME)? {
            let mut sealed = opened(inner, &record, key)?;
            if plain_names(&mut sealed)?.iter().all(Vec::is_empty) {
                return Ok(sealed);
            }
            inner = sealed.inner;
        }
        // The marker, before anything is listed: from here on no store opens and no other
        // conversion begins, so what is listed next is all there is to move.
        if !inner.swap_meta(MARKER, None, Some(marker))? {
            return Err(StoreError::Unavailable("another conversion of this store began meanwhile: let it finish".into()));
        }
        marked = true;
        if inner.meta(RECORD_NAME)?.is_none() {
            let (bytes, _) = record::create(key)?;
            if inner.swap_meta(RECORD_NAME, None, Some(&bytes))? {
                began = Some(bytes);
            }
        }
    }
    let mut sealed = match inner.meta(RECORD_NAME)? {
        Some(record) => opened(inner, &record, key)?,
        // A run stopped after undoing its record, before its marker: begin again.
        None => {
            let (bytes, _) = record::create(key)?;
            if !inner.swap_meta(RECORD_NAME, None, Some(&bytes))? {
                return Err(StoreError::Unavailable("another conversion of this store began meanwhile: let it finish".into()));
            }
            opened(inner, &bytes, key)?
        }
    };
    let [data, leased] = plain_names(&mut sealed)?;
    let all: Vec<String> = data.iter().chain(&leased).cloned().collect();
    let mut fences = match lease_all(&mut sealed.inner, &all, host) {
        Ok(fences) => fences,
        Err(refused) => {
            // A live lease refuses the conversion; a store this run began is left as it was.
            if let Some(bytes) = &began {
                sealed.inner.swap_meta(RECORD_NAME, Some(bytes), None)?;
            }
            if marked {
                sealed.inner.swap_meta(MARKER, Some(marker), None)?;
            }
            return Err(refused);
        }
    };
    let moved = encrypt_all(&mut sealed, &mut fences, &data, &leased, progress);
    release_all(&mut sealed.inner, &fences);
    moved?;
    // A process that had the store open before the marker (applications must be stopped, but
    // one may not have been) can have written plain sessions meanwhile: look again until a
    // listing finds none, so that the marker never goes while one is left.
    for _ in 0..MAX_LOOKS {
        let [data, leased] = plain_names(&mut sealed)?;
        if data.is_empty() && leased.is_empty() {
            break;
        }
        let all: Vec<String> = data.iter().chain(&leased).cloned().collect();
        let mut fences = lease_all(&mut sealed.inner, &all, host)?;
        let moved = encrypt_all(&mut sealed, &mut fences, &data, &leased, progress);
        release_all(&mut sealed.inner, &fences);
        moved?;
    }
    // Another run of the same conversion may have ended it: the marker is gone either way.
    sealed.inner.swap_meta(MARKER, Some(marker), None)?;
    Ok(sealed)
}

/// The store opened with `key` over its record; another key is `ERR_STORE_KEY`.
fn opened<S: Store>(inner: S, record: &[u8], key: &UserKey) -> Result<Sealed<S>> {
    match record::unlock(record, key) {
        Ok(_) => Ok(Sealed::open(inner, key, false)?.0),
        Err(StoreError::Key(_)) => {
            Err(StoreError::Key("this store is encrypted already, with another key: there is nothing to encrypt".into()))
        }
        Err(e) => Err(e),
    }
}

/// The backend names an encryption has still to move: plain sessions with data, and plain
/// sessions with only a lease record.
fn plain_names<S: Store>(sealed: &mut Sealed<S>) -> Result<[Vec<String>; 2]> {
    let (data, leased) = names(&mut sealed.inner)?;
    let mut out = [Vec::new(), Vec::new()];
    for (list, names) in out.iter_mut().zip([data, leased]) {
        for name in names {
            if !sealed.is_converted(&name)? {
                list.push(name);
            }
        }
    }
    Ok(out)
}

fn encrypt_all<S: Store>(
    sealed: &mut Sealed<S>,
    fences: &mut BTreeMap<String, Fence>,
    data: &[String],
    leased: &[String],
    progress: &mut OnProgress<'_>,
) -> Result<()> {
    for (done, session) in data.iter().enumerate() {
        let fence = renewed(&mut sealed.inner, fences, session)?;
        sealed.encrypt_session(session, &fence)?;
        fences.remove(session);
        progress(&Progress { session, done: done + 1, total: data.len() });
    }
    // Released leases of sessions without data (deleted ones, or one whose data moved before a
    // run stopped): their records name them.
    for session in leased {
        let fence = renewed(&mut sealed.inner, fences, session)?;
        sealed.inner.forget_lease(session, &fence)?;
        fences.remove(session);
    }
    Ok(())
}

/// Decrypts an encrypted store in place (or resumes a decryption that stopped), and returns
/// the backend, plain.
pub fn decrypt<S: Store>(mut inner: S, key: &UserKey, host: &str, progress: &mut OnProgress<'_>) -> Result<S> {
    let running = running(&mut inner)?;
    if running == Some(Conversion::Encrypt) {
        return Err(unfinished(Conversion::Encrypt));
    }
    let marker = Conversion::Decrypt.name().as_bytes();
    if inner.meta(RECORD_NAME)?.is_none() {
        if running.is_some() {
            // Stopped right after removing the record: only the marker is left.
            inner.swap_meta(MARKER, Some(marker), None)?;
            return Ok(inner);
        }
        return Err(StoreError::Key("this store is not encrypted: there is nothing to decrypt".into()));
    }
    let mut sealed = Sealed::open(inner, key, false)?.0;
    let (data, leased) = names(&mut sealed.inner)?;
    // Sessions under their own name are copies made by a run that stopped: done, or about to
    // be made again.
    // A session whose id merely looks like a hash (43 base64url characters) is a plain copy
    // a run that stopped made: only a name record makes a session a sealed one.
    let mut sealed_data = Vec::with_capacity(data.len());
    for name in data {
        if sealed.is_converted(&name)? {
            sealed_data.push(name);
        }
    }
    let data = sealed_data;
    // Lease records of sessions without data: a run that stopped may have deleted the name
    // record already.
    let leased: Vec<String> = leased.into_iter().filter(|name| is_hashed(name, HASHED_SESSION_CHARS)).collect();
    // A session whose own id is the stored name of another cannot be put beside it.
    for hashed in &data {
        let session = sealed.session_of(hashed)?;
        if data.binary_search(&session).is_ok() {
            return Err(StoreError::invalid(format!(
                "session {session:?} cannot be decrypted in place: its id is the stored name of another session of this store; migrate the store into a new one instead"
            )));
        }
    }
    let all: Vec<String> = data.iter().chain(&leased).cloned().collect();
    let mut fences = match lease_all(&mut sealed.inner, &all, host) {
        Ok(fences) => fences,
        Err(StoreError::SessionLocked { session, owner }) => {
            let session = sealed.session_of(&session).unwrap_or(session);
            return Err(StoreError::SessionLocked { session, owner });
        }
        Err(e) => return Err(e),
    };
    if running.is_none() && !sealed.inner.swap_meta(MARKER, None, Some(marker))? {
        release_all(&mut sealed.inner, &fences);
        return Err(StoreError::Unavailable("another conversion of this store began meanwhile".into()));
    }
    let moved = decrypt_all(&mut sealed, &mut fences, &data, &leased, progress);
    release_all(&mut sealed.inner, &fences);
    moved?;
    let mut inner = sealed.inner;
    if let Some(record) = inner.meta(RECORD_NAME)? {
        if !inner.swap_meta(RECORD_NAME, Some(&record), None)? {
            return Err(StoreError::Io("the store's encryption record changed during the conversion: run it again".into()));
        }
    }
    if !inner.swap_meta(MARKER, Some(marker), None)? {
        return Err(StoreError::Io(format!("the store record {MARKER:?} changed during the conversion")));
    }
    Ok(inner)
}

fn decrypt_all<S: Store>(
    sealed: &mut Sealed<S>,
    fences: &mut BTreeMap<String, Fence>,
    data: &[String],
    leased: &[String],
    progress: &mut OnProgress<'_>,
) -> Result<()> {
    for (done, hashed) in data.iter().enumerate() {
        let session = sealed.session_of(hashed)?;
        if sealed.keys.session_name(&session) != *hashed {
            return Err(StoreError::corrupt(format!("the name record of the stored session {hashed} names another session")));
        }
        let fence = renewed(&mut sealed.inner, fences, hashed)?;
        sealed.decrypt_session(hashed, &session, &fence)?;
        fences.remove(hashed);
        progress(&Progress { session: &session, done: done + 1, total: data.len() });
    }
    for hashed in leased {
        let fence = renewed(&mut sealed.inner, fences, hashed)?;
        sealed.forget_name(hashed)?;
        sealed.inner.forget_lease(hashed, &fence)?;
        fences.remove(hashed);
    }
    Ok(())
}

impl<S: Store> Sealed<S> {
    /// The backend under the layer, for what only the URL factory knows to do with it (after
    /// an encryption, scrub the plain values from a SQLite file).
    pub fn backend_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Whether a backend session is one this store converted: hashed, with a name record
    /// whose name hashes to it.
    fn is_converted(&mut self, name: &str) -> Result<bool> {
        if !is_hashed(name, HASHED_SESSION_CHARS) || self.inner.meta(&format!("{NAME_RECORD}{name}"))?.is_none() {
            return Ok(false);
        }
        let session = self.session_of(name)?;
        Ok(self.keys.session_name(&session) == name)
    }

    /// Moves a plain session under its hashed name, sealed, as the owner `fence` names.
    fn encrypt_session(&mut self, session: &str, fence: &Fence) -> Result<()> {
        // Moved by another run of this conversion between the listing and the lease: its
        // sealed copy is the session now, and must not be cleared.
        if !self.holds_data(session)? {
            return self.inner.forget_lease(session, fence);
        }
        let hashed = self.name(session)?;
        // What a run that stopped copied of it.
        self.inner.delete_session(&hashed, None)?;
        if let Some(creds) = self.inner.get_creds(session)? {
            Store::set_creds(self, session, &creds, None)?;
            if Store::get_creds(self, session)?.as_deref() != Some(creds.as_slice()) {
                return Err(mismatch(session, "its creds"));
            }
        }
        let listed = self.inner.list_keys(session)?;
        for (kind, ids) in batches(&listed) {
            let values = self.inner.get_keys(session, &kind, &ids)?;
            let writes: Vec<KeyWrite> = ids
                .iter()
                .zip(&values)
                .filter_map(|(id, value)| value.as_ref().map(|v| KeyWrite { kind: kind.clone(), id: id.clone(), value: Some(v.clone()) }))
                .collect();
            if writes.is_empty() {
                continue;
            }
            Store::apply(self, session, &writes, None)?;
            if Store::get_keys(self, session, &kind, &ids)? != values {
                return Err(mismatch(session, &format!("its keys of {kind:?}")));
            }
            self.inner.renew_lease(session, fence, CONVERT_LEASE_MS)?;
        }
        self.inner.delete_session(session, Some(fence))?;
        self.inner.forget_lease(session, fence)
    }

    /// Moves a hashed session under its own name `session`, in the clear, as the owner
    /// `fence` names; then its name record goes, and its lease record.
    fn decrypt_session(&mut self, hashed: &str, session: &str, fence: &Fence) -> Result<()> {
        // Moved by another run of this conversion between the listing and the lease.
        if !self.holds_data(hashed)? {
            return self.inner.forget_lease(hashed, fence);
        }
        // What a run that stopped copied of it.
        self.inner.delete_session(session, None)?;
        if let Some(creds) = Store::get_creds(self, session)? {
            self.inner.set_creds(session, &creds, None)?;
            if self.inner.get_creds(session)?.as_deref() != Some(creds.as_slice()) {
                return Err(mismatch(session, "its creds"));
            }
        }
        let listed = self.inner.list_keys(hashed)?;
        for (kind, stored_ids) in batches(&listed) {
            let values = self.inner.get_keys(hashed, &kind, &stored_ids)?;
            self.learn(values.iter().flatten().map(Vec::as_slice))?;
            let mut writes = Vec::with_capacity(values.len());
            for (stored_id, value) in stored_ids.iter().zip(values) {
                let Some(sealed) = value else { continue };
                let (id, value) = self.open_key(session, hashed, &kind, stored_id, &sealed, None)?;
                writes.push(KeyWrite { kind: kind.clone(), id, value: Some(value) });
            }
            if writes.is_empty() {
                continue;
            }
            self.inner.apply(session, &writes, None)?;
            let ids: Vec<String> = writes.iter().map(|w| w.id.clone()).collect();
            let back = self.inner.get_keys(session, &kind, &ids)?;
            if back.iter().zip(&writes).any(|(read, written)| *read != written.value) {
                return Err(mismatch(session, &format!("its keys of {kind:?}")));
            }
            self.inner.renew_lease(hashed, fence, CONVERT_LEASE_MS)?;
        }
        self.inner.delete_session(hashed, Some(fence))?;
        // The name record before the lease: a run stopped in between finds the lease, without
        // needing the name.
        self.forget_name(hashed)?;
        self.inner.forget_lease(hashed, fence)
    }

    /// Deletes the name record of a hashed session, if it has one.
    fn forget_name(&mut self, hashed: &str) -> Result<()> {
        let record_name = format!("{NAME_RECORD}{hashed}");
        while let Some(stored) = self.inner.meta(&record_name)? {
            if self.inner.swap_meta(&record_name, Some(&stored), None)? {
                break;
            }
        }
        self.named.remove(hashed);
        Ok(())
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

    /// A plain store: two sessions (one with 300 keys), a released lease, a lease-only session.
    fn plain() -> MemoryStore {
        let mut store = MemoryStore::new();
        let lease = store.acquire_lease("alice", &LeaseRequest::new(5000, Claim::Refuse, "app")).unwrap();
        store.set_creds("alice", b"alice-creds", Some(&lease.fence())).unwrap();
        let many: Vec<KeyWrite> = (0..300).map(|i| put("pre-key", &i.to_string(), format!("alice {i}").as_bytes())).collect();
        store.apply("alice", &many, Some(&lease.fence())).unwrap();
        store.release_lease("alice", &lease.fence()).unwrap();
        store.apply("bob", &[put("session", "b.0", b"bob-session")], None).unwrap();
        let gone = store.acquire_lease("carol", &LeaseRequest::new(5000, Claim::Refuse, "app")).unwrap();
        store.release_lease("carol", &gone.fence()).unwrap();
        store
    }

    fn reads_all<S: Store>(store: &mut S) {
        assert_eq!(store.sessions().unwrap(), vec!["alice".to_string(), "bob".to_string()]);
        assert_eq!(store.get_creds("alice").unwrap().as_deref(), Some(&b"alice-creds"[..]));
        assert_eq!(store.get_keys("alice", "pre-key", &["299".into()]).unwrap(), vec![Some(b"alice 299".to_vec())]);
        assert_eq!(store.list_keys("alice").unwrap().len(), 300);
        assert_eq!(store.get_keys("bob", "session", &["b.0".into()]).unwrap(), vec![Some(b"bob-session".to_vec())]);
    }

    #[test]
    fn encrypt_then_decrypt_moves_every_session_and_leaves_no_plain_name_behind() {
        let mut seen = Vec::new();
        let mut sealed = encrypt(plain(), &key(1), "test", &mut |p| seen.push((p.session.to_owned(), p.done, p.total))).unwrap();
        assert_eq!(seen, vec![("alice".into(), 1, 2), ("bob".into(), 2, 2)]);
        reads_all(&mut sealed);
        assert!(sealed.leases().unwrap().is_empty(), "every lease record of the plain names is forgotten");
        let raw = &mut sealed.inner;
        assert_eq!(raw.meta(MARKER).unwrap(), None);
        for name in raw.sessions().unwrap() {
            assert!(is_hashed(&name, HASHED_SESSION_CHARS), "{name}");
        }
        assert!(raw.leases().unwrap().is_empty());
        // Run again: nothing to do. Another key: refused.
        let sealed = encrypt(sealed.inner, &key(1), "test", &mut |_| panic!("nothing to convert")).unwrap();
        assert_eq!(encrypt(sealed.inner, &key(2), "test", &mut |_| {}).err().unwrap().code(), "ERR_STORE_KEY");
    }

    #[test]
    fn decrypt_refuses_another_key_and_changes_nothing() {
        let sealed = encrypt(plain(), &key(1), "test", &mut |_| {}).unwrap();
        assert_eq!(decrypt(sealed.inner, &key(2), "test", &mut |_| {}).err().unwrap().code(), "ERR_STORE_KEY");
    }

    #[test]
    fn a_round_trip_reads_everything_and_a_wrong_key_is_refused() {
        let sealed = encrypt(plain(), &key(1), "test", &mut |_| {}).unwrap();
        let mut back = decrypt(sealed.inner, &key(1), "test", &mut |_| {}).unwrap();
        reads_all(&mut back);
        assert!(back.leases().unwrap().is_empty());
        assert_eq!(back.meta(RECORD_NAME).unwrap(), None);
        assert_eq!(back.meta(MARKER).unwrap(), None);
        assert_eq!(decrypt(back, &key(1), "test", &mut |_| {}).err().unwrap().code(), "ERR_STORE_KEY");
    }

    #[test]
    fn a_live_lease_refuses_the_conversion_before_anything_is_written() {
        let mut store = plain();
        store.acquire_lease("bob", &LeaseRequest::new(5000, Claim::Refuse, "the-app")).unwrap();
        let Err(err) = encrypt(store, &key(1), "test", &mut |_| {}) else { panic!("converted a store in use") };
        assert_eq!(err.code(), "ERR_SESSION_LOCKED");
        assert!(err.to_string().contains("bob"), "{err}");
    }

    /// A store as an encryption killed after its first session leaves it: marker, record,
    /// alice moved, bob still plain.
    fn stopped() -> MemoryStore {
        let mut store = plain();
        store.delete_session("bob", None).unwrap();
        let mut first = encrypt(store, &key(1), "test", &mut |_| {}).unwrap();
        assert!(first.inner.swap_meta(MARKER, None, Some(b"encrypt")).unwrap());
        first.inner.apply("bob", &[put("session", "b.0", b"bob-session")], None).unwrap();
        first.inner
    }

    #[test]
    fn a_stopped_encryption_resumes_and_nothing_opens_meanwhile() {
        let mut raw = stopped();
        assert_eq!(running(&mut raw).unwrap(), Some(Conversion::Encrypt));
        let Err(err) = decrypt(raw, &key(1), "test", &mut |_| {}) else { panic!("decrypted a store being encrypted") };
        assert_eq!(err.code(), "ERR_STORE_UNAVAILABLE");
        assert!(err.to_string().contains("encrypt` again"), "{err}");
        let mut seen = Vec::new();
        let mut sealed = encrypt(stopped(), &key(1), "test", &mut |p| seen.push(p.session.to_owned())).unwrap();
        assert_eq!(seen, vec!["bob".to_string()], "only what was left");
        reads_all(&mut sealed);
        assert_eq!(sealed.inner.meta(MARKER).unwrap(), None);
    }

    #[test]
    fn a_stopped_decryption_resumes() {
        let mut sealed = encrypt(plain(), &key(1), "test", &mut |_| {}).unwrap();
        // As a decryption killed in the middle of bob leaves it: marker, a partial plain copy.
        assert!(sealed.inner.swap_meta(MARKER, None, Some(b"decrypt")).unwrap());
        sealed.inner.apply("bob", &[put("session", "half", b"partial")], None).unwrap();
        let mut back = decrypt(sealed.inner, &key(1), "test", &mut |_| {}).unwrap();
        reads_all(&mut back);
        assert_eq!(back.get_keys("bob", "session", &["half".into()]).unwrap(), vec![None], "the partial copy was redone");
        assert_eq!(back.meta(MARKER).unwrap(), None);
    }
}
