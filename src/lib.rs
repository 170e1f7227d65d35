//! # baileys-rust-auth
//!
//! A durable store for the authentication state of Baileys (WhatsApp Web for Node):
//! the account's `creds` and its Signal keys, for any number of sessions in one store.
//!
//! The crate has two parts, and the file list shows them:
//!
//! - [`core`]: plain Rust, no N-API. Backends ([`memory`](core::memory) as the reference,
//!   [`sqlite`](core::sqlite) as the default, [`redis`](core::redis) for fleets) store bytes;
//!   [`layers`](core::layers) (today the byte check, [`checked`](core::layers::checked); later
//!   ownership, cache, cipher, metrics) wrap any of them; both implement the
//!   [`Store`](core::store::Store) trait. The URL factory [`open`](core::open) builds backend +
//!   layers from a store URL; the [`executor`](core::executor) runs one store's operations in
//!   issue order on a thread of its own. Under them: the value [`codec`](core::codec), the
//!   [`wire`](core::wire) format of batches and results, [`varint`](core::varint) and the
//!   [`error`](core::error) enum with stable codes.
//! - `napi` (only with the `napi` feature, on by default): the thin binding, the only module
//!   that imports napi. Values cross it as one buffer per call (encoded and decoded in
//!   JavaScript by `lib/codec.js` and `lib/wire.js`); it turns store results into promises
//!   (`settle.rs`, `reply.rs`).
//!
//! The public JavaScript API (`useRustAuthState`, `openStore`) is written in `index.js` and
//! `lib/` over this binding; `lib/args.js` checks what callers pass, the byte-check layer checks
//! only the bytes stored and read. `docs/architecture.md` draws the whole package, the layer
//! order, and the path of one `keys.set` and one `keys.get`.

pub mod core;

#[cfg(feature = "napi")]
mod napi;
