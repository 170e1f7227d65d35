//! The URL factory: what `openStore(url, options)` opens. It builds the backend the
//! [`StoreUrl`] names and stacks the layers over it, in the order [`layers`](super::layers)
//! documents (today the byte check, [`Checked`]). Every store the binding or a Rust tool opens
//! from a URL comes from here, so each gets the same layers.

use super::cipher::{UserKey, RECORD_NAME};
use super::error::{Result, StoreError};
use super::layers::checked::Checked;
use super::layers::cipher::Sealed;
use super::memory::MemoryStore;
use super::redis::{RedisOptions, RedisStore};
use super::sql::mysql::MysqlStore;
use super::sql::postgres::PostgresStore;
use super::sql::{SqlOptions, SqlServer};
use super::sqlite::SqliteStore;
use super::store::Store;
use super::url::StoreUrl;

/// Options of [`open_url`].
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Create a SQLite database file that does not exist, or a SQL server store's tables (the
    /// default); without it, a missing file or tables are `ERR_STORE_NOT_FOUND`, and an older
    /// schema is not upgraded.
    pub create: bool,
    /// Tuning of Redis stores; must be `None` for others.
    pub redis: Option<RedisOptions>,
    /// Tuning of PostgreSQL and MySQL stores; must be `None` for others.
    pub sql: Option<SqlOptions>,
    /// The key of an encrypted store ([`Sealed`]): an encrypted store opens only with its
    /// key, a plain one only without (`ERR_STORE_KEY`); an empty store opened with a key (and
    /// `create`) becomes encrypted.
    pub encryption: Option<UserKey>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { create: true, redis: None, sql: None, encryption: None }
    }
}

/// Opens the store a URL names: its backend with every layer over it.
pub fn open_url(url: &StoreUrl, options: OpenOptions) -> Result<Box<dyn Store>> {
    if options.redis.is_some() && !matches!(url, StoreUrl::Redis(_)) {
        return Err(StoreError::invalid("keyPrefix and ttlSeconds apply to Redis stores only, connectTimeoutMs and commandTimeoutMs to Redis, PostgreSQL and MySQL stores"));
    }
    if options.sql.is_some() && !matches!(url, StoreUrl::Sql(_)) {
        return Err(StoreError::invalid("schema, tablePrefix and poolSize apply to PostgreSQL and MySQL stores only"));
    }
    let layers = Layers { encryption: options.encryption.as_ref(), create: options.create };
    match url {
        StoreUrl::SqliteFile(path) => layers.over(SqliteStore::open_with(path, options.create)?),
        StoreUrl::SqliteMemory => layers.over(SqliteStore::open_in_memory()?),
        StoreUrl::Memory => layers.over(MemoryStore::new()),
        StoreUrl::Redis(target) => layers.over(RedisStore::open(target, options.redis.unwrap_or_default())?),
        StoreUrl::Sql(target) => {
            let sql = options.sql.unwrap_or_default();
            match target.server {
                SqlServer::Postgres => layers.over(PostgresStore::open(target, sql, options.create)?),
                SqlServer::Mysql => layers.over(MysqlStore::open(target, sql, options.create)?),
            }
        }
    }
}

/// What decides the layers over a backend.
struct Layers<'a> {
    encryption: Option<&'a UserKey>,
    create: bool,
}

impl Layers<'_> {
    /// The layers over a backend, innermost first: the cipher when the store is encrypted,
    /// then the byte check.
    fn over<S: Store + 'static>(&self, mut backend: S) -> Result<Box<dyn Store>> {
        match self.encryption {
            Some(key) => Ok(Box::new(Checked::new(Sealed::open(backend, key, self.create)?.0))),
            None if backend.meta(RECORD_NAME)?.is_some() => Err(StoreError::Key(
                "this store is encrypted: open it with its key (options.encryption, or BAILEYS_AUTH_KEY for useRustAuthState; docs/encryption.md)".into(),
            )),
            None => Ok(Box::new(Checked::new(backend))),
        }
    }
}
