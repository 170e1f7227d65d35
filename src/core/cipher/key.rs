//! What the caller gives to open an encrypted store: 32 random bytes, or a passphrase that
//! Argon2id stretches into 32 bytes with the store's own salt. Neither is ever printed: the
//! `Debug` form says which kind it is and nothing more.

use std::fmt;

use base64::Engine;
use zeroize::Zeroizing;

use crate::core::error::{Result, StoreError};

/// The length of a raw key and of every key derived here.
pub const KEY_BYTES: usize = 32;

/// A store's key as the caller holds it.
#[derive(Clone)]
pub enum UserKey {
    /// 32 random bytes (`openssl rand -base64 32`).
    Raw(Zeroizing<[u8; KEY_BYTES]>),
    /// A passphrase; the store keeps the salt and the cost it was stretched with.
    Passphrase(Zeroizing<String>),
}

impl fmt::Debug for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UserKey::Raw(_) => "UserKey::Raw(..)",
            UserKey::Passphrase(_) => "UserKey::Passphrase(..)",
        })
    }
}

impl UserKey {
    /// Exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let raw: [u8; KEY_BYTES] =
            bytes.try_into().map_err(|_| StoreError::invalid(format!("an encryption key is 32 bytes; this one has {}", bytes.len())))?;
        Ok(UserKey::Raw(Zeroizing::new(raw)))
    }

    /// 32 bytes written as 64 hex digits or as base64 (standard or URL-safe, padded or not),
    /// as `BAILEYS_AUTH_KEY` and key files hold them. Surrounding whitespace (a key file's
    /// final newline) is ignored. The error never repeats the text.
    pub fn from_text(text: &str) -> Result<Self> {
        let text = text.trim();
        let decoded: Option<Zeroizing<Vec<u8>>> = if text.len() == 2 * KEY_BYTES && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(Zeroizing::new((0..KEY_BYTES).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or(0)).collect()))
        } else {
            let trimmed = text.trim_end_matches('=');
            let engines = [base64::engine::general_purpose::STANDARD_NO_PAD, base64::engine::general_purpose::URL_SAFE_NO_PAD];
            engines.iter().find_map(|engine| engine.decode(trimmed).ok()).map(Zeroizing::new)
        };
        match decoded {
            Some(bytes) if bytes.len() == KEY_BYTES => Self::from_bytes(&bytes),
            Some(bytes) => Err(StoreError::invalid(format!("an encryption key is 32 bytes; this text decodes to {}", bytes.len()))),
            None => Err(StoreError::invalid(
                "an encryption key given as text is 32 bytes in hex (64 digits) or base64 (44 characters); this text is neither",
            )),
        }
    }

    /// A passphrase: at least one character; a short one is the caller's risk, and the docs
    /// say so (docs/encryption.md).
    pub fn passphrase(passphrase: String) -> Result<Self> {
        if passphrase.is_empty() {
            return Err(StoreError::invalid("an encryption passphrase must not be empty"));
        }
        Ok(UserKey::Passphrase(Zeroizing::new(passphrase)))
    }
}

/// The cost of stretching a passphrase with Argon2id, kept in the store beside its salt so
/// that a later version may raise it for new stores without locking out old ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    /// Memory, in KiB.
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

impl Argon2Cost {
    /// RFC 9106's second recommended option with one lane (64 MiB, 3 passes): about a quarter
    /// of a second here, once per open.
    pub const DEFAULT: Argon2Cost = Argon2Cost { memory_kib: 64 * 1024, iterations: 3, lanes: 1 };

    /// Refuses a cost no honest store holds (a damaged or hostile record could otherwise ask
    /// for terabytes of memory): at most 4 GiB, 64 passes, 16 lanes.
    pub fn check(self) -> Result<Self> {
        let sane =
            (8..=4 * 1024 * 1024).contains(&self.memory_kib) && (1..=64).contains(&self.iterations) && (1..=16).contains(&self.lanes);
        if sane {
            Ok(self)
        } else {
            Err(StoreError::corrupt(format!("the store's passphrase cost is out of range: {self:?}")))
        }
    }
}

/// Stretches a passphrase into 32 bytes with Argon2id.
pub fn stretch(passphrase: &str, salt: &[u8], cost: Argon2Cost) -> Result<Zeroizing<[u8; KEY_BYTES]>> {
    let cost = cost.check()?;
    let params = argon2::Params::new(cost.memory_kib, cost.iterations, cost.lanes, Some(KEY_BYTES))
        .map_err(|e| StoreError::corrupt(format!("the store's passphrase cost is refused by Argon2: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; KEY_BYTES]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
        .map_err(|e| StoreError::Io(format!("stretching the passphrase failed: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keys_are_hex_or_base64_of_32_bytes() {
        let bytes: Vec<u8> = (0..32).collect();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xffu8; 32]);
        for text in [hex.clone(), hex.to_uppercase(), b64.clone(), format!("{b64}\n"), b64.trim_end_matches('=').to_owned()] {
            let UserKey::Raw(raw) = UserKey::from_text(&text).unwrap() else { panic!() };
            assert_eq!(&raw[..], &bytes[..], "{text}");
        }
        assert!(matches!(UserKey::from_text(&url).unwrap(), UserKey::Raw(r) if r[..] == [0xff; 32]));
        for bad in ["", "short", &hex[..62], &"g".repeat(64), &base64::engine::general_purpose::STANDARD.encode([1u8; 31])] {
            let err = UserKey::from_text(bad).unwrap_err();
            assert_eq!(err.code(), "ERR_INVALID_ARG");
            assert!(bad.len() < 8 || !err.to_string().contains(bad), "the error does not repeat the text");
        }
    }

    #[test]
    fn keys_never_show_in_debug_output() {
        let key = UserKey::from_bytes(&[7u8; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "UserKey::Raw(..)");
        let pass = UserKey::passphrase("correct horse".into()).unwrap();
        assert!(!format!("{pass:?}").contains("horse"));
        assert_eq!(UserKey::passphrase(String::new()).unwrap_err().code(), "ERR_INVALID_ARG");
    }

    #[test]
    fn a_passphrase_stretches_to_the_same_key_with_the_same_salt_only() {
        let cost = Argon2Cost { memory_kib: 64, iterations: 1, lanes: 1 };
        let a = stretch("pass", b"salt-salt-salt-1", cost).unwrap();
        assert_eq!(a, stretch("pass", b"salt-salt-salt-1", cost).unwrap());
        assert_ne!(a, stretch("pass", b"salt-salt-salt-2", cost).unwrap());
        assert_ne!(a, stretch("Pass", b"salt-salt-salt-1", cost).unwrap());
        let huge = Argon2Cost { memory_kib: u32::MAX, ..cost };
        assert_eq!(stretch("pass", b"salt-salt-salt-1", huge).unwrap_err().code(), "ERR_STORE_CORRUPT");
    }
}
