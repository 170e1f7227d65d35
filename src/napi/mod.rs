//! The N-API binding: the only module that knows about Node.
//!
//! `NativeStore` is a thin class over a core [`Executor`]: each method validates and
//! converts its arguments on the JavaScript thread (values become codec bytes here, so a
//! bad value is rejected before anything is queued), submits the operation, and returns a
//! promise that the worker thread settles. Results are turned back into JS values on the
//! JavaScript thread, and errors into `Error`s whose `code` is the core's stable code.
//! The public API is `index.js`; this class is not meant to be used directly.

mod settle;
mod value;

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{Object, ToNapiValue, Unknown};
use napi::{sys, Env, JsValue};
use napi_derive::napi;

use settle::{Settle, Settler};

use crate::core::error::StoreError;
use crate::core::executor::{open_url, Executor};
use crate::core::redis::RedisOptions;
use crate::core::store::KeyWrite;
use crate::core::url::StoreUrl;

/// What a finished operation hands back to JavaScript.
pub(crate) enum Reply {
    Unit,
    Value(Option<Vec<u8>>),
    Keys { ids: Vec<String>, values: Vec<Option<Vec<u8>>> },
    Names(Vec<String>),
    Opened(Executor, Arc<Settler>),
}

/// Builds the JS value of a reply, on the JavaScript thread.
pub(crate) unsafe fn reply_to_js(env: sys::napi_env, reply: Reply) -> Result<sys::napi_value, StoreError> {
    let mut out = std::ptr::null_mut();
    match reply {
        Reply::Unit => value::napi_ok(sys::napi_get_undefined(env, &mut out))?,
        Reply::Value(None) => value::napi_ok(sys::napi_get_null(env, &mut out))?,
        Reply::Value(Some(bytes)) => out = value::decode(env, &bytes)?,
        Reply::Keys { ids, values } => {
            value::napi_ok(sys::napi_create_object(env, &mut out))?;
            for (id, stored) in ids.iter().zip(values) {
                let mut item = std::ptr::null_mut();
                match stored {
                    Some(bytes) => {
                        item = value::decode(env, &bytes).map_err(|e| match e {
                            StoreError::Corrupt(why) => StoreError::corrupt(format!("key {id:?}: {why}")),
                            other => other,
                        })?
                    }
                    None => value::napi_ok(sys::napi_get_null(env, &mut item))?,
                }
                value::set_own_property(env, out, id, item)?;
            }
        }
        Reply::Names(names) => {
            value::napi_ok(sys::napi_create_array_with_length(env, names.len(), &mut out))?;
            for (i, name) in names.iter().enumerate() {
                let mut item = std::ptr::null_mut();
                value::napi_ok(value::create_string(env, name, &mut item))?;
                value::napi_ok(sys::napi_set_element(env, out, i as u32, item))?;
            }
        }
        Reply::Opened(exec, settler) => {
            out = NativeStore::to_napi_value(env, NativeStore { exec: Arc::new(exec), settler })
                .map_err(|e| StoreError::Io(e.to_string()))?
        }
    }
    Ok(out)
}

/// Returns a promise for an operation. `prepare` runs now, on the JavaScript thread: it
/// validates and converts the arguments and returns the step that submits the work. If it
/// fails, the promise rejects with its error and nothing is submitted.
fn promise<'env, P, R>(env: &'env Env, settler: &Arc<Settler>, prepare: P) -> napi::Result<Object<'env>>
where
    P: FnOnce() -> Result<R, StoreError>,
    R: FnOnce(Settle),
{
    let (promise, settle) = settler.promise(env.raw()).map_err(|e| napi::Error::from_reason(e.to_string()))?;
    match prepare() {
        Ok(submit) => submit(settle),
        Err(err) => settle(Err(err)),
    }
    Ok(Object::from_raw(env.raw(), promise))
}

/// Reads `openStore`'s options. `None` when no Redis option is given.
fn redis_options(env: sys::napi_env, options: sys::napi_value) -> Result<Option<RedisOptions>, StoreError> {
    if value::is_nullish(env, options) {
        return Ok(None);
    }
    let mut redis = RedisOptions::default();
    let mut any = false;
    // A duration from a positive number of `unit`s; the core then checks its range.
    let duration = |value: sys::napi_value, name: &str, unit: f64| -> Result<Duration, StoreError> {
        value::number_arg(env, value)
            .filter(|n| *n > 0.0)
            .and_then(|n| Duration::try_from_secs_f64(n * unit).ok())
            .ok_or_else(|| StoreError::invalid(format!("options.{name} must be a positive number in range")))
    };
    for (name, item) in value::object_entries(env, options, "options")? {
        if value::type_of(env, item) == sys::ValueType::napi_undefined {
            continue;
        }
        any = true;
        match name.as_str() {
            "keyPrefix" => redis.key_prefix = value::string_arg(env, item, "options.keyPrefix")?,
            "connectTimeoutMs" => redis.connect_timeout = duration(item, &name, 0.001)?,
            "commandTimeoutMs" => redis.command_timeout = duration(item, &name, 0.001)?,
            "ttlSeconds" => redis.ttl = Some(duration(item, &name, 1.0)?),
            other => return Err(StoreError::invalid(format!("unknown option {other:?}"))),
        }
    }
    redis.validate()?;
    Ok(any.then_some(redis))
}

#[napi]
pub struct NativeStore {
    exec: Arc<Executor>,
    settler: Arc<Settler>,
}

#[napi]
impl NativeStore {
    /// Opens the store a URL names, on a thread of its own. `options`: `{ keyPrefix?,
    /// connectTimeoutMs?, commandTimeoutMs?, ttlSeconds? }`, for Redis stores.
    #[napi(ts_return_type = "Promise<NativeStore>", ts_args_type = "url: string, options?: object")]
    pub fn open<'env>(env: &'env Env, url: Unknown<'env>, options: Unknown<'env>) -> napi::Result<Object<'env>> {
        let settler = Settler::new(env.raw()).map_err(|e| napi::Error::from_reason(e.to_string()))?;
        let for_store = Arc::clone(&settler);
        promise(env, &settler, move || {
            let url_text = value::string_arg(env.raw(), url.raw(), "store URL")?;
            let url = StoreUrl::parse(&url_text)?;
            let redis = redis_options(env.raw(), options.raw())?;
            Ok(move |settle: Settle| {
                Executor::open(move || open_url(&url, redis), move |opened| settle(opened.map(|exec| Reply::Opened(exec, for_store))))
            })
        })
    }

    #[napi(ts_return_type = "Promise<unknown | null>")]
    pub fn get_creds<'env>(&self, env: &'env Env, session: Unknown<'env>) -> napi::Result<Object<'env>> {
        promise(env, &self.settler, || {
            let session = value::string_arg(env.raw(), session.raw(), "sessionId")?;
            Ok(move |settle: Settle| self.exec.submit(move |s| s.get_creds(&session), |r| settle(r.map(Reply::Value))))
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn set_creds<'env>(&self, env: &'env Env, session: Unknown<'env>, creds: Unknown<'env>) -> napi::Result<Object<'env>> {
        promise(env, &self.settler, || {
            let session = value::string_arg(env.raw(), session.raw(), "sessionId")?;
            if value::is_nullish(env.raw(), creds.raw()) {
                return Err(StoreError::invalid("creds must be an object"));
            }
            let bytes = value::encode_object(env.raw(), creds.raw(), "creds")?;
            Ok(move |settle: Settle| self.exec.submit(move |s| s.set_creds(&session, &bytes), |r| settle(r.map(|_| Reply::Unit))))
        })
    }

    #[napi(ts_return_type = "Promise<Record<string, unknown>>")]
    pub fn get_keys<'env>(
        &self,
        env: &'env Env,
        session: Unknown<'env>,
        kind: Unknown<'env>,
        ids: Unknown<'env>,
    ) -> napi::Result<Object<'env>> {
        promise(env, &self.settler, || {
            let session = value::string_arg(env.raw(), session.raw(), "sessionId")?;
            let kind = value::string_arg(env.raw(), kind.raw(), "key type")?;
            let ids = value::string_array_arg(env.raw(), ids.raw(), "ids")?;
            Ok(move |settle: Settle| self.exec.submit(
                move |s| s.get_keys(&session, &kind, &ids).map(|values| Reply::Keys { ids, values }),
                settle,
            ))
        })
    }

    /// `data` is `{ [type]: { [id]: value | null | undefined } }`; null or undefined deletes.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn set_keys<'env>(&self, env: &'env Env, session: Unknown<'env>, data: Unknown<'env>) -> napi::Result<Object<'env>> {
        promise(env, &self.settler, || {
            let raw_env = env.raw();
            let session = value::string_arg(raw_env, session.raw(), "sessionId")?;
            let mut writes = Vec::new();
            for (kind, by_id) in value::object_entries(raw_env, data.raw(), "keys.set data")? {
                if value::is_nullish(raw_env, by_id) {
                    continue;
                }
                let what = format!("keys.set data[{kind:?}]");
                for (id, item) in value::object_entries(raw_env, by_id, &what)? {
                    let value = if value::is_nullish(raw_env, item) {
                        None
                    } else {
                        Some(value::encode(raw_env, item, &format!("{what}[{id:?}]"))?)
                    };
                    writes.push(KeyWrite { kind: kind.clone(), id, value });
                }
            }
            Ok(move |settle: Settle| self.exec.submit(move |s| s.apply(&session, &writes), |r| settle(r.map(|_| Reply::Unit))))
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn clear_keys<'env>(&self, env: &'env Env, session: Unknown<'env>) -> napi::Result<Object<'env>> {
        promise(env, &self.settler, || {
            let session = value::string_arg(env.raw(), session.raw(), "sessionId")?;
            Ok(move |settle: Settle| self.exec.submit(move |s| s.clear_keys(&session), |r| settle(r.map(|_| Reply::Unit))))
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_session<'env>(&self, env: &'env Env, session: Unknown<'env>) -> napi::Result<Object<'env>> {
        promise(env, &self.settler, || {
            let session = value::string_arg(env.raw(), session.raw(), "sessionId")?;
            Ok(move |settle: Settle| self.exec.submit(move |s| s.delete_session(&session), |r| settle(r.map(|_| Reply::Unit))))
        })
    }

    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn sessions<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        promise(env, &self.settler, || {
            Ok(move |settle: Settle| self.exec.submit(|s| s.sessions(), |r| settle(r.map(Reply::Names))))
        })
    }

    /// Runs the backend's consistency check; resolves to the problems found (empty if sound).
    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn check<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        promise(env, &self.settler, || Ok(move |settle: Settle| self.exec.submit(|s| s.check(), |r| settle(r.map(Reply::Names)))))
    }

    /// Finishes every operation issued before it, then closes; later calls reject with
    /// `ERR_STORE_CLOSED`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        promise(env, &self.settler, || {
            Ok(move |settle: Settle| self.exec.close(move || settle(Ok(Reply::Unit))))
        })
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.exec.is_closed()
    }
}
