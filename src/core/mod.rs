//! The store core: everything that does not depend on Node.

pub mod codec;
pub mod error;
pub mod executor;
pub mod layers;
pub mod memory;
pub mod open;
pub mod redact;
pub mod redis;
pub mod sqlite;
pub mod store;
pub mod url;
pub mod varint;
pub mod wire;
