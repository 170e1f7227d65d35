//! The store core: everything that does not depend on Node. Read the files bottom-up:
//!
//! - Bottom, used by all: [`error`] (one enum, stable codes), [`varint`], [`codec`] (the value
//!   format), [`redact`] (URLs without secrets), [`lease`] (session ownership: fences, the
//!   lease rule, clocks), [`store`] (the trait every backend and every
//!   layer implements, and its contract), [`wire`] (batches and results across the binding).
//! - Backends, which store bytes: [`memory`] (the reference), [`sqlite`] (the default: `mod.rs`,
//!   `open.rs`, `migrate.rs` + `migrations/*.sql`, `backup.rs`), [`redis`] (fleets: `mod.rs`,
//!   `options.rs`, `scripts/*.lua`).
//! - [`layers`]: each wraps any store and adds one concern (today the byte check); its doc gives
//!   the order of the layers, planned ones included.
//! - [`url`] (what a store URL names) and [`open`] (the factory: backend + layers from a URL).
//! - [`executor`]: one worker thread per store, operations in issue order.
//!
//! No module uses one above it; `docs/architecture.md` draws the whole package.

pub mod cipher;
pub mod codec;
pub mod error;
pub mod executor;
pub mod layers;
pub mod lease;
pub mod memory;
pub mod open;
pub mod redact;
pub mod redis;
pub mod sql;
pub mod sqlite;
pub mod store;
pub mod url;
pub mod varint;
pub mod wire;
