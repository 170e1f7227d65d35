//! Layers: each wraps any [`Store`](super::store::Store) (a backend or another layer), adds one
//! concern to every call, and is a `Store` itself. The URL factory ([`open`](super::open))
//! stacks them over the backend a URL names; nothing else knows they exist.
//!
//! The order, from the outside (what the [`Executor`](super::executor::Executor) calls) in:
//!
//! ```text
//! metrics      (later)  outermost: it times and counts what the caller asked for, including
//!                       the time spent in every layer below, and sees every error, whoever
//!                       raised it.
//! checked      (now)    the byte check: every value written is a codec blob (creds an object),
//!                       every value read begins as one (creds: is one) or is
//!                       `ERR_STORE_CORRUPT`. Above the cipher, since
//!                       it checks plaintext blobs; below the cache, so that a cached value was
//!                       checked once, when it came from the backend.
//! cipher       (now)    encryption at rest, right above the backend, when the store is
//!                       opened with a key: the backend (and a backup, a Redis replica) only
//!                       ever holds sealed values under hashed names, and every layer above
//!                       sees plaintext.
//! backend               memory, sqlite, redis, postgres, mysql: stores bytes, knows
//!                       nothing of codecs, caches or keys.
//! ```
//!
//! Session ownership is not a layer: each write carries its handle's fence, which the backend
//! checks inside the write's own transaction or script (see [`lease`](super::lease) and
//! `docs/architecture.md`), and every layer forwards it unchanged. The owner's cache holds
//! decoded values, so it lives in JavaScript (`lib/owner-cache.js`), above all of these.
//!
//! A layer is generic over the store it wraps (`Checked<S: Store>`), so the factory builds the
//! stack with static dispatch and the executor makes one dynamic call per operation.

pub mod checked;
pub mod cipher;
