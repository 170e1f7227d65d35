//! The byte check: Rust checks only the bytes it stores and reads. JavaScript checks what
//! callers pass (`lib/args.js`) and encodes it (`lib/codec.js`); this layer makes sure that
//! whatever reaches a backend, from JavaScript or from a Rust tool, is a well-formed codec blob,
//! and that whatever a backend hands back is one too, so a damaged or foreign value never
//! reaches a decoder as if it were data.
//!
//! - Writes: every key value must pass [`codec::validate`] and the creds must also be an object
//!   ([`codec::is_object`]); otherwise the call fails with `ERR_INVALID_ARG` and the backend is
//!   not called at all, so nothing is written (a batch is refused whole).
//! - Reads: creds that are not a valid blob of an object are `ERR_STORE_CORRUPT` (one small value
//!   per session start, walked whole). A key value must begin as a blob does
//!   ([`codec::check_header`]: the format byte and a known tag), or it is `ERR_STORE_CORRUPT`; its
//!   body is walked by the decoder that reads it (`lib/codec.js`, or [`codec::decode`]), which
//!   refuses a damaged body with the same code. Walking every value twice would add ~30 µs to a
//!   100 KB session read and ~60 µs to a 450 KB app-state read, for nothing the decoder misses.
//!
//! Everything else passes through untouched.

use std::path::Path;
use std::time::Instant;

use crate::core::codec;
use crate::core::error::{Result, StoreError};
use crate::core::lease::{Fence, LeaseInfo, LeaseRequest};
use crate::core::store::{KeyInfo, KeyWrite, SessionStats, Store, Write};

/// A store whose values are checked on their way in and out; see the module doc.
pub struct Checked<S> {
    inner: S,
    /// The issue times of the group about to be written (see [`Store::group_issued`]).
    group_issued: Vec<Instant>,
}

impl<S: Store> Checked<S> {
    pub fn new(inner: S) -> Self {
        Checked { inner, group_issued: Vec::new() }
    }
}

/// What [`codec::validate`] found, without its "the store is corrupt" framing (the caller says
/// whose value it is and what that means).
fn why(err: StoreError) -> String {
    match err {
        StoreError::Corrupt(why) => why,
        other => other.to_string(),
    }
}

/// Refuses creds that are not a codec blob of an object.
fn check_creds(creds: &[u8]) -> Result<()> {
    codec::validate(creds).map_err(|e| StoreError::invalid(format!("creds are not a codec blob: {}", why(e))))?;
    if !codec::is_object(creds) {
        return Err(StoreError::invalid("creds must serialize to an object"));
    }
    Ok(())
}

/// Refuses a key batch with any value that is not a codec blob.
fn check_batch(writes: &[KeyWrite]) -> Result<()> {
    for write in writes {
        if let Some(value) = &write.value {
            codec::validate(value)
                .map_err(|e| StoreError::invalid(format!("malformed key batch: value of {:?} {:?}: {}", write.kind, write.id, why(e))))?;
        }
    }
    Ok(())
}

impl<S: Store> Store for Checked<S> {
    fn get_creds(&mut self, session: &str) -> Result<Option<Vec<u8>>> {
        let creds = self.inner.get_creds(session)?;
        if let Some(bytes) = &creds {
            codec::validate(bytes).map_err(|e| StoreError::corrupt(format!("the creds of session {session:?}: {}", why(e))))?;
            if !codec::is_object(bytes) {
                return Err(StoreError::corrupt(format!("the creds of session {session:?} are not an object")));
            }
        }
        Ok(creds)
    }

    fn set_creds(&mut self, session: &str, creds: &[u8], fence: Option<&Fence>) -> Result<()> {
        check_creds(creds)?;
        self.inner.set_creds(session, creds, fence)
    }

    fn get_keys(&mut self, session: &str, kind: &str, ids: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let values = self.inner.get_keys(session, kind, ids)?;
        for (id, value) in ids.iter().zip(&values) {
            if let Some(bytes) = value {
                codec::check_header(bytes)
                    .map_err(|e| StoreError::corrupt(format!("the value of {kind:?} {id:?} in session {session:?}: {}", why(e))))?;
            }
        }
        Ok(values)
    }

    fn apply(&mut self, session: &str, writes: &[KeyWrite], fence: Option<&Fence>) -> Result<()> {
        check_batch(writes)?;
        self.inner.apply(session, writes, fence)
    }

    fn clear_keys(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        self.inner.clear_keys(session, fence)
    }

    fn delete_session(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        self.inner.delete_session(session, fence)
    }

    fn acquire_lease(&mut self, session: &str, request: &LeaseRequest) -> Result<LeaseInfo> {
        self.inner.acquire_lease(session, request)
    }

    fn renew_lease(&mut self, session: &str, fence: &Fence, lease_ms: u64) -> Result<LeaseInfo> {
        self.inner.renew_lease(session, fence, lease_ms)
    }

    fn acquire_leases(&mut self, requests: &[(String, LeaseRequest)]) -> Result<Vec<Result<LeaseInfo>>> {
        self.inner.acquire_leases(requests)
    }

    fn renew_leases(&mut self, leases: &[(String, Fence)], lease_ms: u64) -> Result<Vec<Result<LeaseInfo>>> {
        self.inner.renew_leases(leases, lease_ms)
    }

    fn release_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        self.inner.release_lease(session, fence)
    }

    fn forget_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        self.inner.forget_lease(session, fence)
    }

    fn lease(&mut self, session: &str) -> Result<Option<LeaseInfo>> {
        self.inner.lease(session)
    }

    fn leases(&mut self) -> Result<Vec<(String, LeaseInfo)>> {
        self.inner.leases()
    }

    fn sessions(&mut self) -> Result<Vec<String>> {
        self.inner.sessions()
    }

    fn meta(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        self.inner.meta(name)
    }

    fn swap_meta(&mut self, name: &str, expected: Option<&[u8]>, value: Option<&[u8]>) -> Result<bool> {
        self.inner.swap_meta(name, expected, value)
    }

    fn operation_issued(&mut self, at: Instant) {
        self.inner.operation_issued(at)
    }

    /// Kept until [`write_group`](Store::write_group), which passes on the times of the writes
    /// it does not refuse: the backend must get one time per write it gets.
    fn group_issued(&mut self, at: &[Instant]) {
        self.group_issued = at.to_vec();
    }

    fn list_keys(&mut self, session: &str) -> Result<Vec<KeyInfo>> {
        self.inner.list_keys(session)
    }

    fn stats(&mut self, session: &str) -> Result<SessionStats> {
        self.inner.stats(session)
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

    fn name_limits(&self) -> Option<crate::core::store::NameLimits> {
        self.inner.name_limits()
    }

    fn cipher(&mut self) -> Option<&mut dyn crate::core::store::CipherControl> {
        self.inner.cipher()
    }

    /// Checks each write as [`Store::set_creds`] and [`Store::apply`] do; the refused ones get
    /// their error and never reach the backend, which gets the rest as one group.
    fn write_group(&mut self, group: &[Write<'_>]) -> Vec<Result<()>> {
        let mut results: Vec<Option<Result<()>>> = group
            .iter()
            .map(|write| {
                let checked = match write {
                    Write::Creds { creds, .. } => check_creds(creds),
                    Write::Keys { writes, .. } => check_batch(writes),
                };
                checked.err().map(Err)
            })
            .collect();
        let passed: Vec<Write<'_>> = group.iter().zip(&results).filter(|(_, refused)| refused.is_none()).map(|(w, _)| *w).collect();
        let passed_flags: Vec<bool> = results.iter().map(Option::is_none).collect();
        crate::core::store::pass_group_issued(&mut self.inner, std::mem::take(&mut self.group_issued), &passed_flags);
        let mut applied = self.inner.write_group(&passed).into_iter();
        results
            .iter_mut()
            .map(|result| {
                result.take().unwrap_or_else(|| applied.next().unwrap_or_else(|| Err(StoreError::Io("no result for a write".into()))))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::codec::{encode, Value};
    use crate::core::memory::MemoryStore;

    fn put(value: Vec<u8>) -> KeyWrite {
        KeyWrite { kind: "session".into(), id: "1".into(), value: Some(value) }
    }

    #[test]
    fn writes_that_are_not_codec_blobs_are_refused_before_the_backend_sees_them() {
        let mut store = Checked::new(MemoryStore::new());
        let good = encode(&Value::Bytes(vec![1, 2]));
        let err = store.apply("s", &[put(good.clone()), put(b"not a blob".to_vec())], None).unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG");
        assert!(err.to_string().contains("malformed key batch"), "{err}");
        assert_eq!(store.sessions().unwrap(), Vec::<String>::new(), "nothing of the batch was written");
        assert_eq!(store.set_creds("s", &good, None).unwrap_err().to_string(), "creds must serialize to an object");
        assert!(store.set_creds("s", b"\x01", None).unwrap_err().to_string().starts_with("creds are not a codec blob"));
        store.apply("s", &[put(good.clone())], None).unwrap();
        store.set_creds("s", &encode(&Value::Object(vec![])), None).unwrap();
    }

    #[test]
    fn a_batch_from_javascript_with_a_damaged_value_is_refused_whole() {
        let writes = vec![KeyWrite { kind: "t".into(), id: "i".into(), value: Some(encode(&Value::String("v".into()))) }];
        let mut batch = crate::core::wire::write_batch(&writes);
        let last = batch.len() - 3;
        batch[last] = 99; // an unknown value tag
        let writes = crate::core::wire::read_batch(&batch).expect("the framing is sound");
        let mut store = Checked::new(MemoryStore::new());
        assert_eq!(store.apply("s", &writes, None).unwrap_err().code(), "ERR_INVALID_ARG");
        assert_eq!(store.sessions().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn reads_that_are_not_codec_blobs_are_corrupt() {
        let mut backend = MemoryStore::new();
        backend.set_creds("s", b"garbage", None).unwrap();
        backend.apply("s", &[put(b"garbage".to_vec())], None).unwrap();
        let mut store = Checked::new(backend);
        assert_eq!(store.get_creds("s").unwrap_err().code(), "ERR_STORE_CORRUPT");
        assert_eq!(store.get_keys("s", "session", &["1".into()]).unwrap_err().code(), "ERR_STORE_CORRUPT");
        assert_eq!(store.get_keys("s", "session", &["2".into()]).unwrap(), vec![None], "absent values are not checked");
    }

    #[test]
    fn a_key_value_read_is_checked_to_its_header_and_its_decoder_refuses_a_damaged_body() {
        let mut sound = encode(&Value::String("a value".into()));
        let mut backend = MemoryStore::new();
        let truncated = sound[..sound.len() - 2].to_vec();
        sound[1] = 200; // an unknown tag
        backend
            .apply("s", &[put(truncated.clone()), KeyWrite { kind: "session".into(), id: "2".into(), value: Some(sound) }], None)
            .unwrap();
        backend.set_creds("s", &encode(&Value::Array(vec![])), None).unwrap();
        let mut store = Checked::new(backend);
        let err = store.get_keys("s", "session", &["2".into()]).unwrap_err();
        assert_eq!((err.code(), err.to_string().contains("unknown value tag 200")), ("ERR_STORE_CORRUPT", true), "{err}");
        // A damaged body behind a sound header reaches the decoder, which refuses it.
        let values = store.get_keys("s", "session", &["1".into()]).unwrap();
        assert_eq!(values, vec![Some(truncated)]);
        assert_eq!(crate::core::codec::decode(values[0].as_ref().unwrap()).unwrap_err().code(), "ERR_STORE_CORRUPT");
        // Creds are walked whole, and must be an object.
        assert_eq!(store.get_creds("s").unwrap_err().code(), "ERR_STORE_CORRUPT");
    }
}
