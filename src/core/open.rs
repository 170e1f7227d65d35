//! The URL factory: what `openStore(url, options)` opens. It builds the backend the
//! [`StoreUrl`] names and stacks the layers over it, in the order [`layers`](super::layers)
//! documents (today the byte check, [`Checked`]). Every store the binding or a Rust tool opens
//! from a URL comes from here, so each gets the same layers.

use super::cipher::{UserKey, RECORD_NAME};
use super::error::{Result, StoreError};
use super::layers::checked::Checked;
use super::layers::cipher::convert::{self, Conversion, OnProgress};
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
    let layers = Layers { encryption: options.encryption.clone(), create: options.create };
    with_backend(url, options, layers)
}

/// Converts the store a URL names in place, plain to encrypted or back (see
/// [`convert`](super::layers::cipher::convert); docs/encryption.md, "Converting a whole
/// store"), or resumes a conversion that stopped, and returns it opened as it now is: with
/// `key` after an encryption, without after a decryption. `host` names this process in the
/// leases it takes meanwhile; `options.encryption` must be `None` (the key is `key`).
pub fn convert_url(url: &StoreUrl, options: OpenOptions, direction: Conversion, key: &UserKey, host: &str) -> Result<Box<dyn Store>> {
    convert_url_with(url, options, direction, key, host, &mut |_| {})
}

/// [`convert_url`], telling `progress` of each session converted.
pub fn convert_url_with(
    url: &StoreUrl,
    options: OpenOptions,
    direction: Conversion,
    key: &UserKey,
    host: &str,
    progress: &mut OnProgress<'_>,
) -> Result<Box<dyn Store>> {
    if options.encryption.is_some() {
        return Err(StoreError::invalid("a conversion takes its key apart from the store's options"));
    }
    with_backend(url, options, Converter { direction, key, host, progress })
}

/// What is done with the backend a URL names, once open.
trait OverBackend {
    /// Stacks what it must over `backend`; `scrub` wipes from the backend's files what it
    /// deleted (SQLite files; nothing elsewhere).
    fn over<S: Store + 'static>(self, backend: S, scrub: fn(&mut S) -> Result<()>) -> Result<Box<dyn Store>>;
}

/// Opens the backend a URL names and hands it to `then`.
fn with_backend(url: &StoreUrl, options: OpenOptions, then: impl OverBackend) -> Result<Box<dyn Store>> {
    if options.redis.is_some() && !matches!(url, StoreUrl::Redis(_)) {
        return Err(StoreError::invalid("keyPrefix and ttlSeconds apply to Redis stores only, connectTimeoutMs and commandTimeoutMs to Redis, PostgreSQL and MySQL stores"));
    }
    if options.sql.is_some() && !matches!(url, StoreUrl::Sql(_)) {
        return Err(StoreError::invalid("schema, tablePrefix and poolSize apply to PostgreSQL and MySQL stores only"));
    }
    fn nothing<S>(_: &mut S) -> Result<()> {
        Ok(())
    }
    match url {
        StoreUrl::SqliteFile(path) => then.over(SqliteStore::open_with(path, options.create)?, SqliteStore::scrub),
        StoreUrl::SqliteMemory => then.over(SqliteStore::open_in_memory()?, nothing),
        StoreUrl::Memory => then.over(MemoryStore::new(), nothing),
        StoreUrl::Redis(target) => then.over(RedisStore::open(target, options.redis.unwrap_or_default())?, nothing),
        StoreUrl::Sql(target) => {
            let sql = options.sql.unwrap_or_default();
            match target.server {
                SqlServer::Postgres => then.over(PostgresStore::open(target, sql, options.create)?, nothing),
                SqlServer::Mysql => then.over(MysqlStore::open(target, sql, options.create)?, nothing),
            }
        }
    }
}

/// What decides the layers over a backend.
struct Layers {
    encryption: Option<UserKey>,
    create: bool,
}

impl OverBackend for Layers {
    /// The layers over a backend, innermost first: the cipher when the store is encrypted,
    /// then the byte check. A store being converted opens neither way.
    fn over<S: Store + 'static>(self, mut backend: S, _: fn(&mut S) -> Result<()>) -> Result<Box<dyn Store>> {
        if let Some(running) = convert::running(&mut backend)? {
            return Err(convert::unfinished(running));
        }
        match &self.encryption {
            Some(key) => Ok(Box::new(Checked::new(Sealed::open(backend, key, self.create)?.0))),
            None if backend.meta(RECORD_NAME)?.is_some() => Err(StoreError::Key(
                "this store is encrypted: open it with its key (options.encryption, or BAILEYS_AUTH_KEY for useRustAuthState; docs/encryption.md)".into(),
            )),
            None => Ok(Box::new(Checked::new(backend))),
        }
    }
}

/// A conversion of the backend, then the layers over it as it now is.
struct Converter<'a, 'p> {
    direction: Conversion,
    key: &'a UserKey,
    host: &'a str,
    progress: &'a mut OnProgress<'p>,
}

impl OverBackend for Converter<'_, '_> {
    fn over<S: Store + 'static>(self, backend: S, scrub: fn(&mut S) -> Result<()>) -> Result<Box<dyn Store>> {
        match self.direction {
            Conversion::Encrypt => {
                let mut sealed = convert::encrypt(backend, self.key, self.host, self.progress)?;
                // The plain values were deleted: gone from the files too, not only unlisted.
                scrub(sealed.backend_mut())?;
                Ok(Box::new(Checked::new(sealed)))
            }
            Conversion::Decrypt => Ok(Box::new(Checked::new(convert::decrypt(backend, self.key, self.host, self.progress)?))),
        }
    }
}
