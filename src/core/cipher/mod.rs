//! Encryption at rest, the primitives: what the caller's key is ([`key`]), the record that
//! makes a store encrypted and holds its keys sealed ([`record`]), and how values are sealed
//! and names hashed with them ([`seal`]). The layer that applies them to every call is
//! [`layers::cipher`](super::layers::cipher); docs/encryption.md is the user's side.
//!
//! Why XChaCha20-Poly1305 and not AES-256-GCM-SIV: its 24-byte nonces can be drawn at random
//! for every write by any number of processes without ever repeating in practice, and it is
//! fast without AES hardware (ARM boards, older VPS CPUs). GCM-SIV's 12-byte nonces would need
//! its misuse resistance to be safe with random nonces, at the cost of two passes per value.

pub mod key;
pub mod record;
pub mod seal;

pub use key::UserKey;
pub use record::RECORD_NAME;
pub use seal::{Place, StoreKeys};
