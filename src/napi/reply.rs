//! What a finished operation hands back to JavaScript, and how it becomes a JS value (on the
//! JavaScript thread, when [`settle`](super::settle) settles its promise). Knows nothing of the
//! store class: an opened store arrives as a conversion the class made ([`Reply::Opened`]), so
//! that this module and `settle.rs` depend on `value.rs` only, never on `mod.rs`.

use napi::sys;

use super::value;
use crate::core::error::StoreError;

/// Turns a value into its JS object on the JavaScript thread.
pub(crate) type ToJs = Box<dyn FnOnce(sys::napi_env) -> Result<sys::napi_value, StoreError> + Send>;

pub(crate) enum Reply {
    Unit,
    /// A Buffer, or null.
    Value(Option<Vec<u8>>),
    /// A Buffer.
    Bytes(Vec<u8>),
    Names(Vec<String>),
    /// A newly opened store, as the JS object that wraps it.
    Opened(ToJs),
}

impl Reply {
    /// The reply's JS value.
    ///
    /// # Safety
    /// `env` must be the current environment, on the JavaScript thread.
    pub(crate) unsafe fn into_js(self, env: sys::napi_env) -> Result<sys::napi_value, StoreError> {
        let mut out = std::ptr::null_mut();
        match self {
            Reply::Unit => value::napi_ok(sys::napi_get_undefined(env, &mut out))?,
            Reply::Value(None) => value::napi_ok(sys::napi_get_null(env, &mut out))?,
            Reply::Value(Some(bytes)) | Reply::Bytes(bytes) => out = value::buffer(env, bytes)?,
            Reply::Names(names) => {
                value::napi_ok(sys::napi_create_array_with_length(env, names.len(), &mut out))?;
                for (i, name) in names.iter().enumerate() {
                    let mut item = std::ptr::null_mut();
                    value::napi_ok(value::create_string(env, name, &mut item))?;
                    value::napi_ok(sys::napi_set_element(env, out, i as u32, item))?;
                }
            }
            Reply::Opened(to_js) => out = to_js(env)?,
        }
        Ok(out)
    }
}
