//! Sealing values and hiding names with a store's keys ([`StoreKeys`], which the store record
//! holds sealed under the caller's key: see [`record`](super::record)).
//!
//! - A **name** (a session id, a key id) is replaced by a keyed hash, HMAC-SHA256 under the
//!   store's index key, so the same name always finds the same row and the row tells nothing of
//!   the name. A key id's hash covers its session and type too, so one contact's id looks
//!   different in every session.
//! - A **value** is sealed with XChaCha20-Poly1305 under one of the store's value keys and a
//!   fresh random 24-byte nonce: random nonces of that size never repeat in practice, so no
//!   counter has to survive crashes or be shared between processes. The associated data binds
//!   the envelope to its store, session, type and id: a value copied onto another row, another
//!   session or another store fails to open.
//!
//! Envelope: `SEALED_FORMAT` · value key id (u32, big-endian) · nonce (24) · ciphertext · tag
//! (16). `SEALED_FORMAT` differs from the codec's format byte, so a sealed value is never
//! taken for a plain one, nor the other way round.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::key::KEY_BYTES;
use crate::core::error::{Result, StoreError};
use crate::core::varint;

/// The first byte of every sealed value (the codec's blobs begin with 1).
pub const SEALED_FORMAT: u8 = 0xE5;
pub const NONCE_BYTES: usize = 24;
pub const TAG_BYTES: usize = 16;
/// Format byte, key id, nonce.
pub const HEADER_BYTES: usize = 1 + 4 + NONCE_BYTES;

/// The length of a hashed session id (32 bytes in unpadded base64url) and of a hashed key id
/// (24 bytes: collisions stay out of reach, and the ids stay short in every backend's index).
pub const HASHED_SESSION_CHARS: usize = 43;
pub const HASHED_ID_CHARS: usize = 32;

/// A store's secret keys: the index key (names) and its value keys, one of which seals new
/// writes. Zeroed when dropped.
pub struct StoreKeys {
    pub(super) store_id: [u8; 16],
    pub(super) index: Zeroizing<[u8; KEY_BYTES]>,
    /// `(key id, key)`; every key id is unique in the store.
    pub(super) values: Vec<(u32, Zeroizing<[u8; KEY_BYTES]>)>,
    /// The key id that seals new writes.
    pub(super) current: u32,
}

impl std::fmt::Debug for StoreKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreKeys {{ {} value keys, current {:08x}, .. }}", self.values.len(), self.current)
    }
}

/// What a sealed value belongs to: the associated data of its envelope.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// The creds of the session whose hashed id this is.
    Creds { session: &'a str },
    /// A key of a session (hashed), with its type (in the clear) and hashed id.
    Key { session: &'a str, kind: &'a str, id: &'a str },
    /// A session's own name, sealed in a store record.
    SessionName { session: &'a str },
}

impl StoreKeys {
    /// A new store's keys, all random.
    pub fn generate() -> Result<Self> {
        let mut store_id = [0u8; 16];
        random(&mut store_id)?;
        let mut index = Zeroizing::new([0u8; KEY_BYTES]);
        random(index.as_mut())?;
        let mut value = Zeroizing::new([0u8; KEY_BYTES]);
        random(value.as_mut())?;
        let mut id = [0u8; 4];
        random(&mut id)?;
        let current = u32::from_be_bytes(id);
        Ok(StoreKeys { store_id, index, values: vec![(current, value)], current })
    }

    /// The value key id that seals new writes.
    pub fn current(&self) -> u32 {
        self.current
    }

    /// These keys with one more value key, made now, which seals new writes from then on
    /// (a rekey): the others stay, so that every value sealed before opens as before.
    pub fn with_new_value_key(&self) -> Result<StoreKeys> {
        if self.values.len() >= usize::from(u8::MAX) {
            return Err(StoreError::invalid(
                "this store was rekeyed 255 times, as many as its record holds: migrate it into a new store to rekey it again",
            ));
        }
        let mut id = [0u8; 4];
        let id = loop {
            random(&mut id)?;
            let candidate = u32::from_be_bytes(id);
            if self.values.iter().all(|(known, _)| *known != candidate) {
                break candidate;
            }
        };
        let mut value = Zeroizing::new([0u8; KEY_BYTES]);
        random(value.as_mut())?;
        let mut values = self.values.clone();
        values.push((id, value));
        Ok(StoreKeys { store_id: self.store_id, index: self.index.clone(), values, current: id })
    }

    /// Whether `other` are keys of this same store (its id and index key): what a record read
    /// again must hold, whatever value keys it added.
    pub fn same_store(&self, other: &StoreKeys) -> bool {
        self.store_id == other.store_id && self.index[..] == other.index[..]
    }

    /// Whether these keys can open what `envelope` names (its value key is one of them).
    pub fn knows(&self, envelope: &[u8]) -> bool {
        key_id_of(envelope).is_none_or(|id| self.values.iter().any(|(known, _)| *known == id))
    }

    /// The store's random id: in every envelope's associated data.
    pub fn store_id(&self) -> [u8; 16] {
        self.store_id
    }

    /// The hashed form of a session id.
    pub fn session_name(&self, session: &str) -> String {
        let mut mac = self.mac(b"session");
        mac.update(session.as_bytes());
        encode(&mac.finalize().into_bytes()[..])
    }

    /// The hashed form of a key id of `kind` in the session (its hashed id).
    pub fn key_name(&self, hashed_session: &str, kind: &str, id: &str) -> String {
        let mut mac = self.mac(b"key");
        let mut framed = Vec::with_capacity(hashed_session.len() + kind.len() + 4);
        varint::write(&mut framed, hashed_session.len() as u64);
        framed.extend_from_slice(hashed_session.as_bytes());
        varint::write(&mut framed, kind.len() as u64);
        framed.extend_from_slice(kind.as_bytes());
        mac.update(&framed);
        mac.update(id.as_bytes());
        encode(&mac.finalize().into_bytes()[..24])
    }

    fn mac(&self, domain: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.index[..]).expect("HMAC takes any key length");
        mac.update(b"baileys-rust-auth name\0");
        mac.update(domain);
        mac.update(b"\0");
        mac
    }

    /// Seals `plaintext` for `place` under the current value key.
    pub fn seal(&self, place: Place<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        let (id, key) = self.values.iter().find(|(id, _)| *id == self.current).expect("the current key is one of the store's keys");
        let mut envelope = Vec::with_capacity(HEADER_BYTES + plaintext.len() + TAG_BYTES);
        envelope.push(SEALED_FORMAT);
        envelope.extend_from_slice(&id.to_be_bytes());
        let mut nonce = [0u8; NONCE_BYTES];
        random(&mut nonce)?;
        envelope.extend_from_slice(&nonce);
        envelope.extend_from_slice(plaintext);
        let cipher = aead(key);
        let tag = cipher
            .encrypt_inout_detached(&XNonce::from(nonce), &self.associated_data(place, *id), (&mut envelope[HEADER_BYTES..]).into())
            .map_err(|_| StoreError::invalid("a value too large to seal"))?;
        envelope.extend_from_slice(&tag);
        Ok(envelope)
    }

    /// Opens an envelope sealed for `place`; `what` names it in errors (never its bytes).
    pub fn open(&self, place: Place<'_>, envelope: &[u8], what: &dyn Fn() -> String) -> Result<Vec<u8>> {
        if envelope.len() < HEADER_BYTES + TAG_BYTES || envelope[0] != SEALED_FORMAT {
            let why = if envelope.first() == Some(&crate::core::codec::FORMAT_VERSION) { "is not sealed" } else { "is not a sealed value" };
            return Err(StoreError::corrupt(format!("{} {why} ({} bytes): it was damaged or written by hand", what(), envelope.len())));
        }
        let id = u32::from_be_bytes(envelope[1..5].try_into().expect("4 bytes"));
        let Some((_, key)) = self.values.iter().find(|(known, _)| *known == id) else {
            // Damage, most likely: the one legitimate cause, a rekey since this store was
            // opened, is named too.
            return Err(StoreError::corrupt(format!(
                "{} names a value key this store does not hold ({id:08x}): it was damaged, or the store was rekeyed since it was opened here (reopen it)",
                what()
            )));
        };
        let nonce = XNonce::try_from(&envelope[5..HEADER_BYTES]).expect("24 bytes");
        let (body, tag) = envelope[HEADER_BYTES..].split_at(envelope.len() - HEADER_BYTES - TAG_BYTES);
        let mut plaintext = body.to_vec();
        let cipher = aead(key);
        let tag = chacha20poly1305::Tag::try_from(tag).expect("16 bytes");
        cipher.decrypt_inout_detached(&nonce, &self.associated_data(place, id), plaintext.as_mut_slice().into(), &tag).map_err(|_| {
            StoreError::corrupt(format!("{} fails its seal: it was tampered with, truncated, or moved from another row or store", what()))
        })?;
        Ok(plaintext)
    }

    /// Opens an envelope sealed for `place` and seals its plaintext again, for the same place,
    /// under the current value key (a rekey).
    pub fn reseal(&self, place: Place<'_>, envelope: &[u8], what: &dyn Fn() -> String) -> Result<Vec<u8>> {
        let plaintext = Zeroizing::new(self.open(place, envelope, what)?);
        self.seal(place, &plaintext)
    }

    fn associated_data(&self, place: Place<'_>, key_id: u32) -> Vec<u8> {
        let mut ad = Vec::with_capacity(96);
        ad.extend_from_slice(b"baileys-rust-auth sealed 1\0");
        ad.extend_from_slice(&self.store_id);
        ad.extend_from_slice(&key_id.to_be_bytes());
        let mut field = |bytes: &[u8]| {
            varint::write(&mut ad, bytes.len() as u64);
            ad.extend_from_slice(bytes);
        };
        match place {
            Place::Creds { session } => {
                field(b"creds");
                field(session.as_bytes());
            }
            Place::Key { session, kind, id } => {
                field(b"key");
                field(session.as_bytes());
                field(kind.as_bytes());
                field(id.as_bytes());
            }
            Place::SessionName { session } => {
                field(b"session name");
                field(session.as_bytes());
            }
        }
        ad
    }
}

/// The id of the value key that sealed `envelope`, or `None` if it is no sealed value.
pub fn key_id_of(envelope: &[u8]) -> Option<u32> {
    if envelope.len() < HEADER_BYTES + TAG_BYTES || envelope[0] != SEALED_FORMAT {
        return None;
    }
    Some(u32::from_be_bytes(envelope[1..5].try_into().expect("4 bytes")))
}

/// Whether a stored name has the shape of a hashed one (so a plain session in an encrypted
/// store is caught as such).
pub fn is_hashed(name: &str, chars: usize) -> bool {
    name.len() == chars && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The AEAD under a 32-byte key.
pub(super) fn aead(key: &[u8; KEY_BYTES]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*key))
}

/// Fills `out` from the operating system's random source.
pub fn random(out: &mut [u8]) -> Result<()> {
    getrandom::fill(out).map_err(|e| StoreError::Io(format!("the operating system's random source failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn what() -> String {
        "the value of \"pre-key\" \"1\"".into()
    }

    #[test]
    fn a_sealed_value_opens_only_where_it_was_sealed() {
        let keys = StoreKeys::generate().unwrap();
        let here = Place::Key { session: "s", kind: "pre-key", id: "a" };
        let sealed = keys.seal(here, b"secret value").unwrap();
        assert_eq!(sealed.len(), HEADER_BYTES + 12 + TAG_BYTES);
        assert_eq!(keys.open(here, &sealed, &what).unwrap(), b"secret value");
        assert_ne!(keys.seal(here, b"secret value").unwrap(), sealed, "a fresh nonce every time");
        for elsewhere in [
            Place::Key { session: "t", kind: "pre-key", id: "a" },
            Place::Key { session: "s", kind: "session", id: "a" },
            Place::Key { session: "s", kind: "pre-key", id: "b" },
            Place::Creds { session: "s" },
        ] {
            assert_eq!(keys.open(elsewhere, &sealed, &what).unwrap_err().code(), "ERR_STORE_CORRUPT", "{elsewhere:?}");
        }
        let other_store = StoreKeys::generate().unwrap();
        assert_eq!(other_store.open(here, &sealed, &what).unwrap_err().code(), "ERR_STORE_CORRUPT", "another store's keys");
    }

    #[test]
    fn every_flipped_bit_and_every_truncation_is_refused_without_the_value_in_the_error() {
        let keys = StoreKeys::generate().unwrap();
        let here = Place::Creds { session: "s" };
        let sealed = keys.seal(here, b"plaintext!").unwrap();
        for bit in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let err = keys.open(here, &bad, &what).unwrap_err();
            assert_eq!(err.code(), "ERR_STORE_CORRUPT", "bit {bit}: {err}");
            assert!(!err.to_string().contains("plaintext"));
        }
        for len in 0..sealed.len() {
            assert_eq!(keys.open(here, &sealed[..len], &what).unwrap_err().code(), "ERR_STORE_CORRUPT", "truncated to {len}");
        }
    }

    #[test]
    fn names_hash_to_fixed_lengths_that_differ_by_session_and_type() {
        let keys = StoreKeys::generate().unwrap();
        let s = keys.session_name("my-session");
        assert!(is_hashed(&s, HASHED_SESSION_CHARS), "{s}");
        assert_eq!(s, keys.session_name("my-session"));
        assert_ne!(s, StoreKeys::generate().unwrap().session_name("my-session"), "another store, another hash");
        let id = keys.key_name(&s, "session", "123.0");
        assert!(is_hashed(&id, HASHED_ID_CHARS), "{id}");
        assert_ne!(id, keys.key_name(&keys.session_name("other"), "session", "123.0"));
        assert_ne!(id, keys.key_name(&s, "sender-key", "123.0"));
        assert_ne!(keys.key_name(&s, "a", "bc"), keys.key_name(&s, "ab", "c"), "type and id are framed apart");
    }
}
