//! The URL factory: what `openStore(url, options)` opens. It builds the backend the
//! [`StoreUrl`] names and stacks the layers over it, in the order [`layers`](super::layers)
//! documents (today the byte check, [`Checked`]). Every store the binding or a Rust tool opens
//! from a URL comes from here, so each gets the same layers.

use super::error::{Result, StoreError};
use super::layers::checked::Checked;
use super::memory::MemoryStore;
use super::redis::{RedisOptions, RedisStore};
use super::sqlite::SqliteStore;
use super::store::Store;
use super::url::StoreUrl;

/// Options of [`open_url`].
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Create a SQLite database file that does not exist (the default); without it, a missing
    /// file is `ERR_STORE_NOT_FOUND`.
    pub create: bool,
    /// Tuning of Redis stores; must be `None` for others.
    pub redis: Option<RedisOptions>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { create: true, redis: None }
    }
}

/// Opens the store a URL names: its backend with every layer over it.
pub fn open_url(url: &StoreUrl, options: OpenOptions) -> Result<Box<dyn Store>> {
    if options.redis.is_some() && !matches!(url, StoreUrl::Redis(_)) {
        return Err(StoreError::invalid("keyPrefix, connectTimeoutMs, commandTimeoutMs and ttlSeconds apply to Redis stores only"));
    }
    Ok(match url {
        StoreUrl::SqliteFile(path) => layered(SqliteStore::open_with(path, options.create)?),
        StoreUrl::SqliteMemory => layered(SqliteStore::open_in_memory()?),
        StoreUrl::Memory => layered(MemoryStore::new()),
        StoreUrl::Redis(target) => layered(RedisStore::open(target, options.redis.unwrap_or_default())?),
    })
}

/// The layers over a backend, innermost first (today only the byte check).
fn layered<S: Store + 'static>(backend: S) -> Box<dyn Store> {
    Box::new(Checked::new(backend))
}
