//! The contract every backend fulfils. One conformance suite (`tests/conformance.rs`) runs
//! against each backend, with [`MemoryStore`](super::memory::MemoryStore) as the reference.
//!
//! Values are opaque bytes here (already encoded by the [`codec`](super::codec)); a session
//! is any non-empty string and owns its creds and its keys, addressed by `(type, id)`.

use super::error::Result;

/// One change in a key batch: `value: None` deletes the key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyWrite {
    pub kind: String,
    pub id: String,
    pub value: Option<Vec<u8>>,
}

/// A store of many sessions' auth state. Methods take `&mut self` because an
/// [`Executor`](super::executor::Executor) owns each store and calls it from one thread,
/// one operation at a time.
pub trait Store: Send {
    /// The session's saved creds, or `None` if it has none.
    fn get_creds(&mut self, session: &str) -> Result<Option<Vec<u8>>>;

    /// Replaces the session's creds, creating the session if needed. Durable on return.
    fn set_creds(&mut self, session: &str, creds: &[u8]) -> Result<()>;

    /// The values of `ids` of one key type, in the order of `ids`; `None` where absent.
    fn get_keys(&mut self, session: &str, kind: &str, ids: &[String]) -> Result<Vec<Option<Vec<u8>>>>;

    /// Applies every write of the batch, or none of them if any fails. Durable on return.
    /// A batch of deletes only does not create the session.
    fn apply(&mut self, session: &str, writes: &[KeyWrite]) -> Result<()>;

    /// Removes every key of the session (not its creds).
    fn clear_keys(&mut self, session: &str) -> Result<()>;

    /// Removes the session: its creds and all its keys.
    fn delete_session(&mut self, session: &str) -> Result<()>;

    /// Every session that has creds or at least one key, sorted.
    fn sessions(&mut self) -> Result<Vec<String>>;

    /// Called before each operation with the moment it was issued (it may have waited in
    /// line since). Networked backends measure their timeouts from it.
    fn operation_issued(&mut self, _at: std::time::Instant) {}

    /// Checks the store's own consistency (for SQLite: `PRAGMA integrity_check` and the
    /// foreign keys). Returns the problems found, empty when the store is sound.
    fn check(&mut self) -> Result<Vec<String>>;
}
