//! The N-API binding: the only module that knows about Node.
//!
//! `NativeStore` is a thin class over a core [`Executor`]: each method validates its
//! arguments on the JavaScript thread, submits the operation, and returns a promise that the
//! worker thread settles, with an `Error` whose `code` is the core's stable code on failure.
//! Values cross as one buffer per call: `lib/codec.js` turns JS values into codec blobs and
//! key batches (checked again here, so a bad buffer is refused before anything is queued),
//! and reads the blobs and result buffers that come back. The public API is `index.js`;
//! this class is not meant to be used directly.

mod progress;
mod reply;
mod settle;
mod value;

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{Object, ToNapiValue, Unknown};
use napi::{sys, Env, JsValue};
use napi_derive::napi;

use reply::Reply;
use settle::{Settle, Settler};

use crate::core::cipher::UserKey;
use crate::core::error::{Result as CoreResult, StoreError};
use crate::core::executor::{Executor, QueuedWrite};
use crate::core::layers::cipher::convert::Conversion;
use crate::core::lease::{check_lease_ms, Claim, Fence, LeaseRequest, MAX_LEASE_MS};
use crate::core::open::{convert_url_with, open_url, OpenOptions};
use crate::core::redis::RedisOptions;
use crate::core::sql::SqlOptions;
use crate::core::store::Store;
use crate::core::url::StoreUrl;
use crate::core::wire;

/// A core error as a thrown JS error with its code: every binding function returns
/// `napi::Result<_, &'static str>`, so that an error thrown before any promise exists carries
/// the core's stable code as its `code`, like every rejection.
fn coded(err: StoreError) -> napi::Error<&'static str> {
    napi::Error::new(err.code(), err.to_string())
}

/// Returns a promise for an operation. `prepare` runs now, on the JavaScript thread: it
/// validates and converts the arguments and returns the step that submits the work. If it
/// fails, the promise rejects with its error and nothing is submitted.
fn promise<'env, P, R>(env: &'env Env, settler: &Arc<Settler>, prepare: P) -> napi::Result<Object<'env>, &'static str>
where
    P: FnOnce() -> Result<R, StoreError>,
    R: FnOnce(Settle),
{
    let (promise, settle) = settler.promise(env.raw()).map_err(coded)?;
    match prepare() {
        Ok(submit) => submit(settle),
        Err(err) => settle(Err(err)),
    }
    Ok(Object::from_raw(env.raw(), promise))
}

/// Reads `openStore`'s options for a store at `url`: `create`, the Redis ones and the SQL
/// server ones (`redis` and `sql` are `None` when none of theirs is given). The timeouts are
/// both's; an option of another kind of store is refused by the factory
/// ([`open_url`](crate::core::open::open_url)).
fn open_options(env: sys::napi_env, options: sys::napi_value, url: &StoreUrl) -> Result<OpenOptions, StoreError> {
    let mut open = OpenOptions::default();
    if value::is_nullish(env, options) {
        return Ok(open);
    }
    let mut redis = RedisOptions::default();
    let mut sql = SqlOptions::default();
    let (mut any_redis, mut any_sql) = (false, false);
    // A duration from a positive number of `unit`s; the core then checks its range.
    let duration = |value: sys::napi_value, name: &str, unit: f64| -> Result<Duration, StoreError> {
        value::number_arg(env, value)
            .filter(|n| *n > 0.0)
            .and_then(|n| Duration::try_from_secs_f64(n * unit).ok())
            .ok_or_else(|| StoreError::invalid(format!("options.{name} must be a positive number in range")))
    };
    let is_sql = matches!(url, StoreUrl::Sql(_));
    for (name, item) in value::object_entries(env, options, "options")? {
        if value::type_of(env, item) == sys::ValueType::napi_undefined {
            continue;
        }
        match name.as_str() {
            "create" => open.create = value::bool_arg(env, item, "options.create")?,
            "connectTimeoutMs" | "commandTimeoutMs" => {
                let timeout = duration(item, &name, 0.001)?;
                let (redis_slot, sql_slot) = if name == "connectTimeoutMs" {
                    (&mut redis.connect_timeout, &mut sql.connect_timeout)
                } else {
                    (&mut redis.command_timeout, &mut sql.command_timeout)
                };
                if is_sql {
                    *sql_slot = timeout;
                    any_sql = true;
                } else {
                    *redis_slot = timeout;
                    any_redis = true;
                }
            }
            "keyPrefix" => {
                redis.key_prefix = value::string_arg(env, item, "options.keyPrefix")?;
                any_redis = true;
            }
            "ttlSeconds" => {
                redis.ttl = Some(duration(item, &name, 1.0)?);
                any_redis = true;
            }
            "schema" | "tablePrefix" => {
                let wanted = match url {
                    StoreUrl::Sql(target) => target.server.namespace_option(),
                    _ => "",
                };
                if is_sql && name != wanted {
                    return Err(StoreError::invalid(format!("{name} is not an option of this store (use {wanted})")));
                }
                sql.namespace = Some(value::string_arg(env, item, &format!("options.{name}"))?);
                any_sql = true;
            }
            "poolSize" => {
                let size = value::number_arg(env, item)
                    .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n <= f64::from(crate::core::sql::options::MAX_POOL_SIZE))
                    .ok_or_else(|| StoreError::invalid("options.poolSize must be a whole number between 1 and 64"))?;
                sql.pool_size = size as u32;
                any_sql = true;
            }
            "encryption" => open.encryption = encryption_arg(env, item)?,
            other => return Err(StoreError::invalid(format!("unknown option {other:?}"))),
        }
    }
    if any_redis {
        redis.validate()?;
    }
    open.redis = any_redis.then_some(redis);
    open.sql = any_sql.then_some(sql);
    Ok(open)
}

/// `options.encryption`: `{ key }` (32 bytes as a Buffer, or as hex or base64 text) or
/// `{ passphrase }`; `null` for none. Errors never repeat what was given.
fn encryption_arg(env: sys::napi_env, value: sys::napi_value) -> Result<Option<UserKey>, StoreError> {
    if value::is_nullish(env, value) {
        return Ok(None);
    }
    let mut found = None;
    for (name, item) in value::object_entries(env, value, "options.encryption")? {
        if value::type_of(env, item) == sys::ValueType::napi_undefined {
            continue;
        }
        let key = match name.as_str() {
            "key" if value::type_of(env, item) == sys::ValueType::napi_string => {
                UserKey::from_text(&zeroize::Zeroizing::new(value::string_arg(env, item, "options.encryption.key")?))?
            }
            "key" => UserKey::from_bytes(&zeroize::Zeroizing::new(value::bytes_arg(env, item, "options.encryption.key")?))?,
            "passphrase" => UserKey::passphrase(value::string_arg(env, item, "options.encryption.passphrase")?)?,
            other => return Err(StoreError::invalid(format!("unknown option options.encryption.{other} (it takes key or passphrase)"))),
        };
        if found.replace(key).is_some() {
            return Err(StoreError::invalid("options.encryption takes a key or a passphrase, not both"));
        }
    }
    found.map(Some).ok_or_else(|| StoreError::invalid("options.encryption needs a key (32 bytes) or a passphrase"))
}

/// What a store URL names, as `parseStoreUrl` returns it to JavaScript: the one URL parser of
/// the package (`src/core/url.rs`), for the library's store sharing and the CLI.
// napi-derive registers exported functions only outside `cfg(test)`, so the lib test build sees
// no caller of these two (JavaScript is their caller).
#[cfg_attr(test, allow(dead_code))]
#[napi(object)]
pub struct ParsedStoreUrl {
    /// `sqlite-file`, `sqlite-memory`, `memory`, `redis`, `redis-cluster`, `postgres` or `mysql`.
    pub kind: String,
    /// The database file of a `sqlite-file` URL, as written in the URL (not resolved).
    pub path: Option<String>,
    /// The URL with any password replaced by `***`.
    pub shown: String,
}

/// Parses a store URL; throws (with `code` `ERR_INVALID_ARG`) for one that names no store.
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub fn parse_store_url(url: String) -> napi::Result<ParsedStoreUrl, &'static str> {
    use crate::core::redis::RedisTarget;
    let parsed = StoreUrl::parse(&url).map_err(coded)?;
    let (kind, path) = match parsed {
        StoreUrl::SqliteFile(path) => ("sqlite-file", Some(path.to_string_lossy().into_owned())),
        StoreUrl::SqliteMemory => ("sqlite-memory", None),
        StoreUrl::Memory => ("memory", None),
        StoreUrl::Redis(RedisTarget::Server(_)) => ("redis", None),
        StoreUrl::Redis(RedisTarget::Cluster(_)) => ("redis-cluster", None),
        StoreUrl::Sql(target) => match target.server {
            crate::core::sql::SqlServer::Postgres => ("postgres", None),
            crate::core::sql::SqlServer::Mysql => ("mysql", None),
        },
    };
    Ok(ParsedStoreUrl { kind: kind.into(), path, shown: crate::core::redact::redact(&url) })
}

/// The URL with any password replaced by `***` (`src/core/redact.rs`): for messages and logs.
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub fn redact_url(url: String) -> String {
    crate::core::redact::redact(&url)
}

#[napi]
pub struct NativeStore {
    exec: Arc<Executor>,
    settler: Arc<Settler>,
}

impl NativeStore {
    /// The shape of every store method: `args` reads the arguments now, on the JavaScript thread
    /// (if it fails, the promise rejects and nothing is queued); `op` runs on the store's worker
    /// thread, in issue order; `reply` says how its result reaches JavaScript.
    fn call<'env, A, T>(
        &self,
        env: &'env Env,
        args: impl FnOnce() -> Result<A, StoreError>,
        op: impl FnOnce(&mut dyn Store, A) -> CoreResult<T> + Send + 'static,
        reply: fn(T) -> Reply,
    ) -> napi::Result<Object<'env>, &'static str>
    where
        A: Send + 'static,
        T: 'static,
    {
        promise(env, &self.settler, || {
            let args = args()?;
            Ok(move |settle: Settle| self.exec.submit(move |store| op(store, args).map(reply), settle))
        })
    }
}

/// Counts of the store's group commits (see `docs/architecture.md`).
#[napi(object)]
pub struct WriteGroups {
    /// Write groups committed since the store opened: on SQLite one commit (one fsync) each.
    pub groups: f64,
    /// Creds saves and key batches those groups held; more writes than groups means some
    /// shared a commit.
    pub writes: f64,
}

impl NativeStore {
    /// Like [`NativeStore::call`] for a creds save or key batch: submitted with
    /// [`Executor::submit_write`], so it may share a commit with the writes queued next to it.
    fn write<'env>(
        &self,
        env: &'env Env,
        args: impl FnOnce() -> Result<QueuedWrite, StoreError>,
    ) -> napi::Result<Object<'env>, &'static str> {
        promise(env, &self.settler, || {
            let write = args()?;
            Ok(move |settle: Settle| self.exec.submit_write(write, move |result| settle(result.map(unit))))
        })
    }
}

/// The batch lease methods' arguments: an array of session ids and an array of as many
/// strings (`name`, one per session: the claims or the fences), paired in order.
fn per_session_arg(
    env: &Env,
    sessions: &Unknown<'_>,
    each: &Unknown<'_>,
    name: &'static str,
    one: &'static str,
) -> Result<Vec<(String, String)>, StoreError> {
    let sessions = value::string_array_arg(env.raw(), sessions.raw(), "sessions")?;
    let each = value::string_array_arg(env.raw(), each.raw(), name)?;
    if each.len() != sessions.len() {
        return Err(StoreError::invalid(format!("{one} per session")));
    }
    Ok(sessions.into_iter().zip(each).collect())
}

/// The new key of a rekey: `{ key }` or `{ passphrase }`, as `options.encryption` takes it.
fn new_key_arg(env: &Env, encryption: &Unknown<'_>) -> Result<UserKey, StoreError> {
    encryption_arg(env.raw(), encryption.raw())?.ok_or_else(|| StoreError::invalid("a rekey needs the new key: { key } or { passphrase }"))
}

/// The encryption layer of a store, for a rekey.
fn cipher_of(store: &mut dyn Store) -> CoreResult<&mut dyn crate::core::store::CipherControl> {
    store
        .cipher()
        .ok_or_else(|| StoreError::Unsupported("this store is not encrypted: there is no key to change (encrypt it first)".into()))
}

/// The session id argument of most methods.
fn session_arg(env: &Env, session: &Unknown<'_>) -> Result<String, StoreError> {
    value::string_arg(env.raw(), session.raw(), "sessionId")
}

/// The optional fence argument of the writes: the token a lease was granted with
/// (`"<epoch>:<holder>"`), or undefined for a write by no owner.
fn fence_arg(env: &Env, fence: &Unknown<'_>) -> Result<Option<Fence>, StoreError> {
    if value::is_nullish(env.raw(), fence.raw()) {
        return Ok(None);
    }
    Fence::parse(&value::string_arg(env.raw(), fence.raw(), "fence")?).map(Some)
}

/// The lease duration argument, in ms.
fn lease_ms_arg(env: &Env, lease_ms: &Unknown<'_>) -> Result<u64, StoreError> {
    let ms = value::number_arg(env.raw(), lease_ms.raw()).filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= MAX_LEASE_MS as f64);
    let ms = ms.ok_or_else(|| StoreError::invalid(format!("leaseMs must be a whole number of ms between 1000 and {MAX_LEASE_MS}")))?;
    let ms = ms as u64;
    check_lease_ms(ms)?;
    Ok(ms)
}

#[napi]
impl NativeStore {
    /// Opens the store a URL names, on a thread of its own. `options`: `{ create?,
    /// connectTimeoutMs?, commandTimeoutMs?, keyPrefix?, ttlSeconds?, schema?, tablePrefix?,
    /// poolSize? }` (the timeouts for Redis and SQL servers, the next two for Redis, the last
    /// three for PostgreSQL (`schema`) and MySQL (`tablePrefix`)).
    #[napi(ts_return_type = "Promise<NativeStore>", ts_args_type = "url: string, options?: object")]
    pub fn open<'env>(env: &'env Env, url: Unknown<'env>, options: Unknown<'env>) -> napi::Result<Object<'env>, &'static str> {
        let settler = Settler::new(env.raw()).map_err(coded)?;
        let for_store = Arc::clone(&settler);
        promise(env, &settler, move || {
            let url_text = value::string_arg(env.raw(), url.raw(), "store URL")?;
            let url = StoreUrl::parse(&url_text)?;
            let options = open_options(env.raw(), options.raw(), &url)?;
            Ok(move |settle: Settle| {
                Executor::open(
                    move || open_url(&url, options),
                    move |opened| settle(opened.map(|exec| Reply::Opened(NativeStore::wrap(exec, for_store)))),
                )
            })
        })
    }

    /// The session's creds as a codec blob, or null.
    /// Converts the store a URL names in place (`direction`: `'encrypt'` or `'decrypt'`),
    /// or resumes a conversion that stopped, with the store's key `encryption` (`{ key }` or
    /// `{ passphrase }`), and opens it as it then is (with the key after an encryption).
    /// `options` as [`NativeStore::open`] takes them, without `encryption`; `host` names this
    /// process in the leases the conversion takes; `onProgress({ session, done, total })`, if
    /// given, is called after each session, and the conversion waits for it to return.
    #[napi(
        ts_return_type = "Promise<NativeStore>",
        ts_args_type = "url: string, options: object | undefined, direction: 'encrypt' | 'decrypt', encryption: object, host: string, onProgress?: (progress: { session: string, done: number, total: number }) => void"
    )]
    pub fn convert<'env>(
        env: &'env Env,
        url: Unknown<'env>,
        options: Unknown<'env>,
        direction: Unknown<'env>,
        encryption: Unknown<'env>,
        host: Unknown<'env>,
        on_progress: Unknown<'env>,
    ) -> napi::Result<Object<'env>, &'static str> {
        let settler = Settler::new(env.raw()).map_err(coded)?;
        let for_store = Arc::clone(&settler);
        promise(env, &settler, move || {
            let url_text = value::string_arg(env.raw(), url.raw(), "store URL")?;
            let url = StoreUrl::parse(&url_text)?;
            let options = open_options(env.raw(), options.raw(), &url)?;
            if options.encryption.is_some() {
                return Err(StoreError::invalid("the key of a conversion is its own argument, not options.encryption"));
            }
            let direction = value::string_arg(env.raw(), direction.raw(), "direction")?;
            let direction = Conversion::parse(&direction).ok_or_else(|| StoreError::invalid("direction must be 'encrypt' or 'decrypt'"))?;
            let key = encryption_arg(env.raw(), encryption.raw())?
                .ok_or_else(|| StoreError::invalid("a conversion needs the store's key: { key } or { passphrase }"))?;
            let host = value::string_arg(env.raw(), host.raw(), "host")?;
            let progress = match value::type_of(env.raw(), on_progress.raw()) {
                sys::ValueType::napi_undefined | sys::ValueType::napi_null => None,
                sys::ValueType::napi_function => Some(progress::Progress::new(env.raw(), on_progress.raw())?),
                _ => return Err(StoreError::invalid("onProgress must be a function")),
            };
            Ok(move |settle: Settle| {
                Executor::open(
                    move || {
                        let mut tell = |p: &crate::core::layers::cipher::convert::Progress<'_>| {
                            if let Some(progress) = &progress {
                                progress.tell(p.session, p.done, p.total);
                            }
                        };
                        convert_url_with(&url, options, direction, &key, &host, &mut tell)
                    },
                    move |opened| settle(opened.map(|exec| Reply::Opened(NativeStore::wrap(exec, for_store)))),
                )
            })
        })
    }

    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn get_creds<'env>(&self, env: &'env Env, session: Unknown<'env>) -> napi::Result<Object<'env>, &'static str> {
        self.call(env, || session_arg(env, &session), |s, session| s.get_creds(&session), Reply::Value)
    }

    /// Saves the creds, a codec blob of an object (`lib/codec.js` writes it; the byte-check
    /// layer checks it).
    #[napi(ts_return_type = "Promise<void>", ts_args_type = "session: string, creds: Uint8Array, fence?: string")]
    pub fn set_creds<'env>(
        &self,
        env: &'env Env,
        session: Unknown<'env>,
        creds: Unknown<'env>,
        fence: Unknown<'env>,
    ) -> napi::Result<Object<'env>, &'static str> {
        self.write(env, || {
            Ok(QueuedWrite::Creds {
                session: session_arg(env, &session)?,
                creds: value::bytes_arg(env.raw(), creds.raw(), "creds")?,
                fence: fence_arg(env, &fence)?,
            })
        })
    }

    /// The values of `ids`, as one results buffer (`src/core/wire.rs`).
    #[napi(ts_return_type = "Promise<Buffer>", ts_args_type = "session: string, kind: string, ids: string[]")]
    pub fn get_keys<'env>(
        &self,
        env: &'env Env,
        session: Unknown<'env>,
        kind: Unknown<'env>,
        ids: Unknown<'env>,
    ) -> napi::Result<Object<'env>, &'static str> {
        self.call(
            env,
            || {
                let session = session_arg(env, &session)?;
                let kind = value::string_arg(env.raw(), kind.raw(), "key type")?;
                Ok((session, kind, value::string_array_arg(env.raw(), ids.raw(), "ids")?))
            },
            |s, (session, kind, ids)| s.get_keys(&session, &kind, &ids),
            |values| Reply::Bytes(wire::write_results(&values)),
        )
    }

    /// Applies a key batch (`src/core/wire.rs`, written by `lib/codec.js`) atomically.
    #[napi(ts_return_type = "Promise<void>", ts_args_type = "session: string, batch: Uint8Array, fence?: string")]
    pub fn set_keys<'env>(
        &self,
        env: &'env Env,
        session: Unknown<'env>,
        batch: Unknown<'env>,
        fence: Unknown<'env>,
    ) -> napi::Result<Object<'env>, &'static str> {
        self.write(env, || {
            let writes = wire::read_batch(&value::bytes_arg(env.raw(), batch.raw(), "batch")?)?;
            Ok(QueuedWrite::Keys { session: session_arg(env, &session)?, writes, fence: fence_arg(env, &fence)? })
        })
    }

    #[napi(ts_return_type = "Promise<void>", ts_args_type = "session: string, fence?: string")]
    pub fn clear_keys<'env>(
        &self,
        env: &'env Env,
        session: Unknown<'env>,
        fence: Unknown<'env>,
    ) -> napi::Result<Object<'env>, &'static str> {
        self.call(
            env,
            || Ok((session_arg(env, &session)?, fence_arg(env, &fence)?)),
            |s, (session, fence)| s.clear_keys(&session, fence.as_ref()),
            unit,
        )
    }

    #[napi(ts_return_type = "Promise<void>", ts_args_type = "session: string, fence?: string")]
    pub fn delete_session<'env>(
        &self,
        env: &'env Env,
        session: Unknown<'env>,
        fence: Unknown<'env>,
    ) -> napi::Result<Object<'env>, &'static str> {
        self.call(
            env,
            || Ok((session_arg(env, &session)?, fence_arg(env, &fence)?)),
            |s, (session, fence)| s.delete_session(&session, fence.as_ref()),
            unit,
        )
    }

    /// Takes the session's lease (`docs/ownership.md`); resolves to it as a codec blob
    /// (`src/core/wire.rs` `write_lease`), or rejects `ERR_SESSION_LOCKED` with `owner`.
    /// `claim`: `'refuse'`, `'process'` (take it from a holder in this process) or `'takeover'`.
    #[napi(ts_return_type = "Promise<Buffer>", ts_args_type = "session: string, leaseMs: number, claim: string, host: string")]
    pub fn acquire_lease<'env>(
        &self,
        env: &'env Env,
        session: Unknown<'env>,
        lease_ms: Unknown<'env>,
        claim: Unknown<'env>,
        host: Unknown<'env>,
    ) -> napi::Result<Object<'env>, &'static str> {
        self.call(
            env,
            || {
                let session = session_arg(env, &session)?;
                let claim = Claim::parse(&value::string_arg(env.raw(), claim.raw(), "claim")?)?;
                let host = value::string_arg(env.raw(), host.raw(), "host")?;
                Ok((session, LeaseRequest::new(lease_ms_arg(env, &lease_ms)?, claim, host)))
            },
            |s, (session, request)| s.acquire_lease(&session, &request),
            |lease| Reply::Bytes(wire::write_lease(&lease)),
        )
    }

    /// Renews the lease `fence` names for `leaseMs` from now; rejects `ERR_SESSION_FENCED` if it
    /// is no longer the session's.
    #[napi(ts_return_type = "Promise<Buffer>", ts_args_type = "session: string, fence: string, leaseMs: number")]
    pub fn renew_lease<'env>(
        &self,
        env: &'env Env,
        session: Unknown<'env>,
        fence: Unknown<'env>,
        lease_ms: Unknown<'env>,
    ) -> napi::Result<Object<'env>, &'static str> {
        self.call(
            env,
            || {
                let fence = fence_arg(env, &fence)?.ok_or_else(|| StoreError::invalid("fence is required"))?;
                Ok((session_arg(env, &session)?, fence, lease_ms_arg(env, &lease_ms)?))
            },
            |s, (session, fence, lease_ms)| s.renew_lease(&session, &fence, lease_ms),
            |lease| Reply::Bytes(wire::write_lease(&lease)),
        )
    }

    /// Takes several sessions' leases in one go (`Store::acquire_leases`): resolves to a codec
    /// blob of each one's outcome, in order (`wire::write_lease_outcomes`).
    #[napi(ts_return_type = "Promise<Buffer>", ts_args_type = "sessions: string[], leaseMs: number, claims: string[], host: string")]
    pub fn acquire_leases<'env>(
        &self,
        env: &'env Env,
        sessions: Unknown<'env>,
        lease_ms: Unknown<'env>,
        claims: Unknown<'env>,
        host: Unknown<'env>,
    ) -> napi::Result<Object<'env>, &'static str> {
        self.call(
            env,
            || {
                let pairs = per_session_arg(env, &sessions, &claims, "claims", "one claim")?;
                let host = value::string_arg(env.raw(), host.raw(), "host")?;
                let lease_ms = lease_ms_arg(env, &lease_ms)?;
                pairs
                    .into_iter()
                    .map(|(session, claim)| Ok((session, LeaseRequest::new(lease_ms, Claim::parse(&claim)?, host.clone()))))
                    .collect::<Result<Vec<_>, StoreError>>()
            },
            |s, requests| s.acquire_leases(&requests),
            |outcomes| Reply::Bytes(wire::write_lease_outcomes(&outcomes)),
        )
    }

    /// Renews several leases in one go (`Store::renew_leases`): resolves to a codec blob of
    /// each one's outcome, in order (`wire::write_lease_outcomes`).
    #[napi(ts_return_type = "Promise<Buffer>", ts_args_type = "sessions: string[], fences: string[], leaseMs: number")]
    pub fn renew_leases<'env>(
        &self,
        env: &'env Env,
        sessions: Unknown<'env>,
        fences: Unknown<'env>,
        lease_ms: Unknown<'env>,
    ) -> napi::Result<Object<'env>, &'static str> {
        self.call(
            env,
            || {
                let pairs = per_session_arg(env, &sessions, &fences, "fences", "one fence")?;
                let renewals = pairs.into_iter().map(|(session, fence)| Ok((session, Fence::parse(&fence)?)));
                Ok((renewals.collect::<Result<Vec<_>, StoreError>>()?, lease_ms_arg(env, &lease_ms)?))
            },
            |s, (renewals, lease_ms)| s.renew_leases(&renewals, lease_ms),
            |outcomes| Reply::Bytes(wire::write_lease_outcomes(&outcomes)),
        )
    }

    /// Begins a rekey of this encrypted store to `encryption` (`{ key }` or `{ passphrase }`),
    /// or finds it begun or finished (docs/encryption.md, "Rotation"): resolves to `[what]`,
    /// `'begun'`, `'resumed'` or `'only-key'` (the new key is the only one that opens the
    /// store already). `ERR_UNSUPPORTED` on a plain store.
    #[napi(ts_return_type = "Promise<string[]>", ts_args_type = "encryption: object")]
    pub fn rekey_begin<'env>(&self, env: &'env Env, encryption: Unknown<'env>) -> napi::Result<Object<'env>, &'static str> {
        self.call(
            env,
            || new_key_arg(env, &encryption),
            |s, key| cipher_of(s)?.rekey_begin(&key),
            |start| Reply::Names(vec![start.name().to_owned()]),
        )
    }

    /// Re-seals a session's values under the rekey's new value key, as its temporary owner;
    /// resolves to a codec blob `{ resealed, stale, owner }` (src/core/wire.rs).
    #[napi(ts_return_type = "Promise<Buffer>", ts_args_type = "session: string, leaseMs: number, host: string")]
    pub fn rekey_session<'env>(
        &self,
        env: &'env Env,
        session: Unknown<'env>,
        lease_ms: Unknown<'env>,
        host: Unknown<'env>,
    ) -> napi::Result<Object<'env>, &'static str> {
        self.call(
            env,
            || {
                let session = session_arg(env, &session)?;
                let host = value::string_arg(env.raw(), host.raw(), "host")?;
                Ok((session, LeaseRequest::new(lease_ms_arg(env, &lease_ms)?, Claim::Refuse, host)))
            },
            |s, (session, request)| cipher_of(s)?.rekey_session(&session, &request),
            |rekey| Reply::Bytes(wire::write_session_rekey(&rekey)),
        )
    }

    /// Ends a rekey: `encryption` is then the only key that opens the store.
    #[napi(ts_return_type = "Promise<void>", ts_args_type = "encryption: object")]
    pub fn rekey_finish<'env>(&self, env: &'env Env, encryption: Unknown<'env>) -> napi::Result<Object<'env>, &'static str> {
        self.call(env, || new_key_arg(env, &encryption), |s, key| cipher_of(s)?.rekey_finish(&key), |()| Reply::Unit)
    }

    /// Gives the lease `fence` names back (nothing happens if it was taken over).
    #[napi(ts_return_type = "Promise<void>", ts_args_type = "session: string, fence: string")]
    pub fn release_lease<'env>(
        &self,
        env: &'env Env,
        session: Unknown<'env>,
        fence: Unknown<'env>,
    ) -> napi::Result<Object<'env>, &'static str> {
        self.call(
            env,
            || {
                let fence = fence_arg(env, &fence)?.ok_or_else(|| StoreError::invalid("fence is required"))?;
                Ok((session_arg(env, &session)?, fence))
            },
            |s, (session, fence)| s.release_lease(&session, &fence),
            unit,
        )
    }

    /// The session's stored lease as a codec blob (`write_lease`), or null if never leased.
    #[napi(ts_return_type = "Promise<Buffer | null>", ts_args_type = "session: string")]
    pub fn lease<'env>(&self, env: &'env Env, session: Unknown<'env>) -> napi::Result<Object<'env>, &'static str> {
        self.call(
            env,
            || session_arg(env, &session),
            |s, session| s.lease(&session),
            |lease| Reply::Value(lease.as_ref().map(wire::write_lease)),
        )
    }

    /// Every stored lease, as a codec blob of `[session, lease][]`.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn leases<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>, &'static str> {
        self.call(env, || Ok(()), |s, ()| s.leases(), |leases| Reply::Bytes(wire::write_leases(&leases)))
    }

    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn sessions<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>, &'static str> {
        self.call(env, || Ok(()), |s, ()| s.sessions(), Reply::Names)
    }

    /// Runs the backend's consistency check; resolves to the problems found (empty if sound).
    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn check<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>, &'static str> {
        self.call(env, || Ok(()), |s, ()| s.check(), Reply::Names)
    }

    /// The session's keys as a codec blob of `[type, id, bytes][]`, sorted by type and id.
    #[napi(ts_return_type = "Promise<Buffer>", ts_args_type = "session: string")]
    pub fn list_keys<'env>(&self, env: &'env Env, session: Unknown<'env>) -> napi::Result<Object<'env>, &'static str> {
        self.call(env, || session_arg(env, &session), |s, session| s.list_keys(&session), |keys| Reply::Bytes(wire::write_key_list(&keys)))
    }

    /// The session's stats as a codec blob of `{ credsBytes, types: { [type]: { count, bytes } },
    /// updatedAt }` (`src/core/wire.rs`).
    #[napi(ts_return_type = "Promise<Buffer>", ts_args_type = "session: string")]
    pub fn stats<'env>(&self, env: &'env Env, session: Unknown<'env>) -> napi::Result<Object<'env>, &'static str> {
        self.call(env, || session_arg(env, &session), |s, session| s.stats(&session), |stats| Reply::Bytes(wire::write_stats(&stats)))
    }

    /// Copies the whole store to a SQLite file at `path`, replacing it atomically; rejects
    /// with `ERR_UNSUPPORTED` for backends that cannot.
    #[napi(ts_return_type = "Promise<void>", ts_args_type = "path: string")]
    pub fn backup<'env>(&self, env: &'env Env, path: Unknown<'env>) -> napi::Result<Object<'env>, &'static str> {
        self.call(
            env,
            || {
                let path = value::string_arg(env.raw(), path.raw(), "backup path")?;
                if path.contains('\0') {
                    return Err(StoreError::invalid("backup path must not contain NUL characters"));
                }
                Ok(std::path::PathBuf::from(path))
            },
            |s, path| s.backup(&path),
            unit,
        )
    }

    /// Finishes every operation issued before it, then closes; later calls reject with
    /// `ERR_STORE_CLOSED`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>, &'static str> {
        promise(env, &self.settler, || Ok(move |settle: Settle| self.exec.close(move || settle(Ok(Reply::Unit)))))
    }

    /// What the store is, whatever URL opened it: equal for two stores on one SQLite file (by
    /// device and inode) or one Redis server, database and key prefix.
    #[napi(getter)]
    pub fn identity(&self) -> String {
        self.exec.identity().to_owned()
    }

    /// The longest session id, key type and key id the store takes, in UTF-8 bytes
    /// (`{ session, type, id }`), or null when any length is taken.
    #[napi(getter, ts_return_type = "{ session: number; type: number; id: number } | null")]
    pub fn name_limits(&self, env: &Env) -> napi::Result<Option<Object<'_>>> {
        let Some(limits) = self.exec.name_limits() else { return Ok(None) };
        let mut object = Object::new(env)?;
        object.set("session", limits.session as u32)?;
        object.set("type", limits.kind as u32)?;
        object.set("id", limits.id as u32)?;
        Ok(Some(object))
    }

    /// How many write groups the store committed and how many writes they held.
    #[napi(getter)]
    pub fn write_groups(&self) -> WriteGroups {
        let (groups, writes) = self.exec.write_groups();
        WriteGroups { groups: groups as f64, writes: writes as f64 }
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.exec.is_closed()
    }
}

impl NativeStore {
    /// An opened store as the conversion to its JS object, made on the JavaScript thread.
    fn wrap(exec: Executor, settler: Arc<Settler>) -> reply::ToJs {
        Box::new(move |env| unsafe {
            NativeStore::to_napi_value(env, NativeStore { exec: Arc::new(exec), settler }).map_err(|e| StoreError::Io(e.to_string()))
        })
    }
}

/// The reply of an operation that returns nothing.
fn unit(_: ()) -> Reply {
    Reply::Unit
}
