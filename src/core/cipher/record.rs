//! The record that makes a store encrypted: its random id and its [`StoreKeys`], sealed under
//! each key that may open it (a *slot* per key: one today, two while a rekey runs). It lives
//! in the backend's store records ([`Store::meta`](crate::core::store::Store::meta)) under
//! [`RECORD_NAME`]; its presence is what says "this store is encrypted", to this layer and to
//! a plain open, which refuses the store.
//!
//! Layout (integers big-endian):
//!
//! ```text
//! "BRAK" · version 1 · store id (16) · slot count (1) · slots
//! slot:   check (8) · kdf (1: 0 raw key, 1 Argon2id) · [salt (16) · memory KiB (4) · passes (4) · lanes (4)]
//!         · sealed length (4) · nonce (24) · sealed keys · tag (16)
//! keys:   version 1 · index key (32) · current key id (4) · count (1) · count × (key id (4) · key (32))
//! ```
//!
//! A slot's sealing key and its check come from the caller's key (raw, or the passphrase
//! stretched with the slot's salt) through HKDF-SHA256 salted with the store id: the check
//! finds the slot a key opens without trying them all, and a key that matches no check is
//! the wrong key (`ERR_STORE_KEY`), told apart from a damaged record (`ERR_STORE_CORRUPT`).

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::XNonce;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::key::{stretch, Argon2Cost, UserKey, KEY_BYTES};
use super::seal::{aead, random, StoreKeys, NONCE_BYTES, TAG_BYTES};
use crate::core::error::{Result, StoreError};

/// The store record's name.
pub const RECORD_NAME: &str = "cipher";
const MAGIC: &[u8; 4] = b"BRAK";
const VERSION: u8 = 1;
const KEYS_VERSION: u8 = 1;
const KDF_RAW: u8 = 0;
const KDF_ARGON2ID: u8 = 1;
const SALT_BYTES: usize = 16;
/// Magic, version, store id.
const HEADER_BYTES: usize = 4 + 1 + 16;

/// How a slot turns the caller's key into its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kdf {
    Raw,
    Argon2id { salt: [u8; SALT_BYTES], cost: Argon2Cost },
}

/// One parsed slot.
struct Slot<'a> {
    check: [u8; 8],
    kdf: Kdf,
    nonce: &'a [u8],
    sealed: &'a [u8],
    tag: &'a [u8],
}

/// A new store's record and keys, with one slot for `key`.
pub fn create(key: &UserKey) -> Result<(Vec<u8>, StoreKeys)> {
    let keys = StoreKeys::generate()?;
    let record = write(&keys, &[key])?;
    Ok((record, keys))
}

/// The keys of the store this record belongs to, opened with `key`: `ERR_STORE_KEY` if no
/// slot is `key`'s, `ERR_STORE_CORRUPT` if the record is damaged.
pub fn unlock(record: &[u8], key: &UserKey) -> Result<StoreKeys> {
    unlock_slot(record, key).map(|(keys, _)| keys)
}

/// [`unlock`], with the position of `key`'s slot: while a rekey runs, slot 0 is the old key's
/// and slot 1 the new key's.
pub fn unlock_slot(record: &[u8], key: &UserKey) -> Result<(StoreKeys, usize)> {
    let (store_id, slots) = parse(record)?;
    let mut kinds_tried = (false, false);
    for (position, slot) in slots.iter().enumerate() {
        let secret = match (&slot.kdf, key) {
            (Kdf::Raw, UserKey::Raw(raw)) => Zeroizing::new(**raw),
            (Kdf::Argon2id { salt, cost }, UserKey::Passphrase(passphrase)) => stretch(passphrase, salt, *cost)?,
            (Kdf::Raw, _) => {
                kinds_tried.0 = true;
                continue;
            }
            (Kdf::Argon2id { .. }, _) => {
                kinds_tried.1 = true;
                continue;
            }
        };
        let (seal_key, check) = slot_secrets(&secret, &store_id);
        if check != slot.check {
            continue;
        }
        let mut plaintext = Zeroizing::new(slot.sealed.to_vec());
        let nonce = XNonce::try_from(slot.nonce).expect("24 bytes");
        let tag = chacha20poly1305::Tag::try_from(slot.tag).expect("16 bytes");
        aead(&seal_key)
            .decrypt_inout_detached(&nonce, &slot_ad(&store_id, &slot.check), plaintext.as_mut_slice().into(), &tag)
            .map_err(|_| StoreError::corrupt("the store's encryption record fails its seal: it was damaged or edited"))?;
        return read_keys(&plaintext, store_id).map(|keys| (keys, position));
    }
    Err(StoreError::Key(match kinds_tried {
        (true, false) if matches!(key, UserKey::Passphrase(_)) => {
            "this store is encrypted with a key of 32 bytes, not a passphrase: open it with encryption: { key }".into()
        }
        (false, true) if matches!(key, UserKey::Raw(_)) => {
            "this store is encrypted with a passphrase, not a key of 32 bytes: open it with encryption: { passphrase }".into()
        }
        _ => "the encryption key does not open this store: it was encrypted with another one".into(),
    }))
}

/// How many keys the record opens with: one, or two while a rekey runs.
pub fn slot_count(record: &[u8]) -> Result<usize> {
    parse(record).map(|(_, slots)| slots.len())
}

/// A record holding `keys` sealed under each of `slot_keys`.
pub fn write(keys: &StoreKeys, slot_keys: &[&UserKey]) -> Result<Vec<u8>> {
    let store_id = keys.store_id();
    let mut record = Vec::with_capacity(HEADER_BYTES + 1 + slot_keys.len() * 256);
    record.extend_from_slice(MAGIC);
    record.push(VERSION);
    record.extend_from_slice(&store_id);
    record.push(u8::try_from(slot_keys.len()).map_err(|_| StoreError::invalid("too many keys for one store"))?);
    let plaintext = keys_bytes(keys);
    for key in slot_keys {
        let (kdf, secret) = match key {
            UserKey::Raw(raw) => (Kdf::Raw, Zeroizing::new(**raw)),
            UserKey::Passphrase(passphrase) => {
                let mut salt = [0u8; SALT_BYTES];
                random(&mut salt)?;
                let cost = Argon2Cost::DEFAULT;
                (Kdf::Argon2id { salt, cost }, stretch(passphrase, &salt, cost)?)
            }
        };
        let (seal_key, check) = slot_secrets(&secret, &store_id);
        record.extend_from_slice(&check);
        match kdf {
            Kdf::Raw => record.push(KDF_RAW),
            Kdf::Argon2id { salt, cost } => {
                record.push(KDF_ARGON2ID);
                record.extend_from_slice(&salt);
                for n in [cost.memory_kib, cost.iterations, cost.lanes] {
                    record.extend_from_slice(&n.to_be_bytes());
                }
            }
        }
        record.extend_from_slice(&(plaintext.len() as u32).to_be_bytes());
        let mut nonce = [0u8; NONCE_BYTES];
        random(&mut nonce)?;
        record.extend_from_slice(&nonce);
        let start = record.len();
        record.extend_from_slice(&plaintext);
        let tag = aead(&seal_key)
            .encrypt_inout_detached(&XNonce::from(nonce), &slot_ad(&store_id, &check), (&mut record[start..]).into())
            .map_err(|_| StoreError::invalid("the store's keys could not be sealed"))?;
        record.extend_from_slice(&tag);
    }
    Ok(record)
}

/// A slot's sealing key and its check, from the caller's secret and the store id.
fn slot_secrets(secret: &[u8; KEY_BYTES], store_id: &[u8; 16]) -> (Zeroizing<[u8; KEY_BYTES]>, [u8; 8]) {
    let hkdf = Hkdf::<Sha256>::new(Some(store_id), secret);
    let mut seal_key = Zeroizing::new([0u8; KEY_BYTES]);
    hkdf.expand(b"baileys-rust-auth slot key", seal_key.as_mut()).expect("32 bytes is a valid HKDF length");
    let mut check = [0u8; 8];
    hkdf.expand(b"baileys-rust-auth slot check", &mut check).expect("8 bytes is a valid HKDF length");
    (seal_key, check)
}

fn slot_ad(store_id: &[u8; 16], check: &[u8; 8]) -> Vec<u8> {
    let mut ad = Vec::with_capacity(HEADER_BYTES + 8);
    ad.extend_from_slice(MAGIC);
    ad.push(VERSION);
    ad.extend_from_slice(store_id);
    ad.extend_from_slice(check);
    ad
}

fn keys_bytes(keys: &StoreKeys) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(1 + 32 + 4 + 1 + keys.values.len() * 36));
    out.push(KEYS_VERSION);
    out.extend_from_slice(&keys.index[..]);
    out.extend_from_slice(&keys.current.to_be_bytes());
    out.push(keys.values.len() as u8);
    for (id, key) in &keys.values {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&key[..]);
    }
    out
}

fn read_keys(bytes: &[u8], store_id: [u8; 16]) -> Result<StoreKeys> {
    let damaged = || StoreError::corrupt("the store's encryption record holds keys in a form this version does not know");
    let mut reader = Reader { data: bytes, pos: 0 };
    if reader.byte().ok_or_else(damaged)? != KEYS_VERSION {
        return Err(damaged());
    }
    let mut index = Zeroizing::new([0u8; KEY_BYTES]);
    index.copy_from_slice(reader.take(KEY_BYTES).ok_or_else(damaged)?);
    let current = reader.u32().ok_or_else(damaged)?;
    let count = reader.byte().ok_or_else(damaged)?;
    let mut values = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let id = reader.u32().ok_or_else(damaged)?;
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        key.copy_from_slice(reader.take(KEY_BYTES).ok_or_else(damaged)?);
        values.push((id, key));
    }
    if reader.pos != bytes.len() || !values.iter().any(|(id, _)| *id == current) {
        return Err(damaged());
    }
    Ok(StoreKeys { store_id, index, values, current })
}

fn parse(record: &[u8]) -> Result<([u8; 16], Vec<Slot<'_>>)> {
    let damaged = |why: &str| StoreError::corrupt(format!("the store's encryption record is damaged: {why}"));
    let mut reader = Reader { data: record, pos: 0 };
    if reader.take(4) != Some(MAGIC) {
        return Err(damaged("it does not begin as one"));
    }
    match reader.byte() {
        Some(VERSION) => {}
        Some(v) => {
            return Err(StoreError::Corrupt(format!(
                "the store's encryption record has version {v}, newer than this version of baileys-rust-auth reads (1): upgrade it"
            )))
        }
        None => return Err(damaged("it is truncated")),
    }
    let store_id: [u8; 16] = reader.take(16).ok_or_else(|| damaged("it is truncated"))?.try_into().expect("16 bytes");
    let count = reader.byte().ok_or_else(|| damaged("it is truncated"))?;
    let mut slots = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let truncated = || damaged("a slot is truncated");
        let check: [u8; 8] = reader.take(8).ok_or_else(truncated)?.try_into().expect("8 bytes");
        let kdf = match reader.byte().ok_or_else(truncated)? {
            KDF_RAW => Kdf::Raw,
            KDF_ARGON2ID => {
                let salt: [u8; SALT_BYTES] = reader.take(SALT_BYTES).ok_or_else(truncated)?.try_into().expect("16 bytes");
                let cost = Argon2Cost {
                    memory_kib: reader.u32().ok_or_else(truncated)?,
                    iterations: reader.u32().ok_or_else(truncated)?,
                    lanes: reader.u32().ok_or_else(truncated)?,
                };
                Kdf::Argon2id { salt, cost }
            }
            other => return Err(damaged(&format!("a slot names an unknown key derivation ({other})"))),
        };
        let len = reader.u32().ok_or_else(truncated)? as usize;
        let nonce = reader.take(NONCE_BYTES).ok_or_else(truncated)?;
        let sealed = reader.take(len).ok_or_else(truncated)?;
        let tag = reader.take(TAG_BYTES).ok_or_else(truncated)?;
        slots.push(Slot { check, kdf, nonce, sealed, tag });
    }
    if reader.pos != record.len() {
        return Err(damaged("bytes follow its last slot"));
    }
    Ok((store_id, slots))
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.data.len())?;
        let taken = &self.data[self.pos..end];
        self.pos = end;
        Some(taken)
    }
    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cipher::seal::Place;

    fn raw(byte: u8) -> UserKey {
        UserKey::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn the_record_opens_with_its_key_only() {
        let (record, keys) = create(&raw(1)).unwrap();
        let opened = unlock(&record, &raw(1)).unwrap();
        let place = Place::Creds { session: "s" };
        let sealed = keys.seal(place, b"x").unwrap();
        assert_eq!(opened.open(place, &sealed, &String::new).unwrap(), b"x", "the same keys");
        assert_eq!(opened.session_name("s"), keys.session_name("s"));
        assert_eq!(unlock(&record, &raw(2)).unwrap_err().code(), "ERR_STORE_KEY");
        let err = unlock(&record, &UserKey::passphrase("p".into()).unwrap()).unwrap_err();
        assert_eq!(err.code(), "ERR_STORE_KEY");
        assert!(err.to_string().contains("not a passphrase"), "{err}");
    }

    #[test]
    fn a_damaged_record_is_corrupt_never_a_wrong_key() {
        let (record, _) = create(&raw(1)).unwrap();
        for len in 0..record.len() {
            let err = unlock(&record[..len], &raw(1)).unwrap_err();
            assert_eq!(err.code(), "ERR_STORE_CORRUPT", "truncated to {len}: {err}");
        }
        // A flipped bit never opens the record. In the slot's nonce, sealed keys and tag it is
        // damage (the seal fails); in the store id or the check, the record looks like another
        // key's, which no check can tell from a wrong key.
        let sealed_from = HEADER_BYTES + 1 + 8 + 1 + 4;
        for bit in 0..record.len() * 8 {
            let mut bad = record.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let code = unlock(&bad, &raw(1)).unwrap_err().code();
            if bit / 8 >= sealed_from {
                assert_eq!(code, "ERR_STORE_CORRUPT", "bit {bit}");
            } else {
                assert!(matches!(code, "ERR_STORE_CORRUPT" | "ERR_STORE_KEY"), "bit {bit}: {code}");
            }
        }
    }

    #[test]
    fn a_passphrase_slot_opens_with_the_passphrase() {
        let pass = UserKey::passphrase("correct horse battery staple".into()).unwrap();
        let (record, keys) = create(&pass).unwrap();
        assert_eq!(unlock(&record, &pass).unwrap().session_name("a"), keys.session_name("a"));
        assert_eq!(unlock(&record, &UserKey::passphrase("wrong".into()).unwrap()).unwrap_err().code(), "ERR_STORE_KEY");
        assert_eq!(unlock(&record, &raw(1)).unwrap_err().code(), "ERR_STORE_KEY");
    }

    #[test]
    fn two_slots_open_the_same_keys() {
        let keys = StoreKeys::generate().unwrap();
        let record = write(&keys, &[&raw(1), &raw(2)]).unwrap();
        for key in [raw(1), raw(2)] {
            assert_eq!(unlock(&record, &key).unwrap().session_name("a"), keys.session_name("a"));
        }
        assert_eq!(unlock(&record, &raw(3)).unwrap_err().code(), "ERR_STORE_KEY");
    }
}
