//! # baileys-rust-auth
//!
//! A durable store for the authentication state of Baileys (WhatsApp Web for Node):
//! the account's `creds` and its Signal keys, for any number of sessions in one store.
//!
//! The crate has two layers, and the file list shows them:
//!
//! - [`core`]: plain Rust, no N-API. The value [`codec`](core::codec) (a compact, versioned
//!   binary form of the JSON-like values Baileys stores, with raw bytes kept raw), the
//!   [`Store`](core::store::Store) trait and its contract, the backends
//!   ([`memory`](core::memory) as the reference, [`sqlite`](core::sqlite) as the default,
//!   [`redis`](core::redis) for fleets), the [`executor`](core::executor) that runs one
//!   store's operations in issue order off the JavaScript thread, the [`wire`](core::wire)
//!   format of batches and results, and the [`error`](core::error) enum with stable codes.
//! - `napi` (only with the `napi` feature, on by default): the thin binding. Values cross it
//!   as one buffer per call (encoded and decoded in JavaScript by `lib/codec.js`, validated
//!   here); it turns store results into promises. It is the only module that imports napi.
//!
//! The public JavaScript API (`useRustAuthState`, `openStore`) is written in `index.js` over
//! this binding.

pub mod core;

#[cfg(feature = "napi")]
mod napi;
