//! The URL factory: what `openStore(url, options)` opens. It builds the backend the
//! [`StoreUrl`] names and stacks the layers over it, in the order [`layers`](super::layers)
//! documents (today the byte check, [`Checked`]). Every store the binding or a Rust tool opens
//! from a URL comes from here, so each gets the same layers.

use super::error::{Result, StoreError};
use super::layers::checked::Checked;
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
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { create: true, redis: None, sql: None }
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
    Ok(match url {
        StoreUrl::SqliteFile(path) => layered(SqliteStore::open_with(path, options.create)?),
        StoreUrl::SqliteMemory => layered(SqliteStore::open_in_memory()?),
        StoreUrl::Memory => layered(MemoryStore::new()),
        StoreUrl::Redis(target) => layered(RedisStore::open(target, options.redis.unwrap_or_default())?),
        StoreUrl::Sql(target) => {
            let sql = options.sql.unwrap_or_default();
            match target.server {
                SqlServer::Postgres => layered(PostgresStore::open(target, sql, options.create)?),
                SqlServer::Mysql => layered(MysqlStore::open(target, sql, options.create)?),
            }
        }
    })
}

/// The layers over a backend, innermost first (today only the byte check).
fn layered<S: Store + 'static>(backend: S) -> Box<dyn Store> {
    Box::new(Checked::new(backend))
}
