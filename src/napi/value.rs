//! Reading N-API arguments (strings, string arrays, buffers, option objects) and making
//! result buffers. Values themselves cross as codec bytes, encoded and decoded in
//! JavaScript by `lib/codec.js`; this module never walks a JS value.

use std::ptr;

use napi::sys;

use crate::core::error::StoreError;

type Env = sys::napi_env;
type JsValue = sys::napi_value;

/// Why an argument cannot be read.
struct ArgError {
    reason: String,
}

impl ArgError {
    fn new(reason: impl Into<String>) -> Self {
        ArgError { reason: reason.into() }
    }

    fn into_error(self, what: &str) -> StoreError {
        StoreError::invalid(format!("{what} cannot be read: {}", self.reason))
    }
}

type ArgResult<T = ()> = Result<T, ArgError>;

/// Checks an N-API status. A pending JavaScript exception (a throwing getter or Proxy trap)
/// is cleared and reported as the reason, so the caller gets one typed error.
fn check(env: Env, status: sys::napi_status) -> ArgResult {
    if status == sys::Status::napi_ok {
        return Ok(());
    }
    let mut pending = false;
    unsafe { sys::napi_is_exception_pending(env, &mut pending) };
    if pending {
        let mut exception = ptr::null_mut();
        unsafe { sys::napi_get_and_clear_last_exception(env, &mut exception) };
        let message = coerce_to_string(env, exception).unwrap_or_else(|| "an exception".into());
        return Err(ArgError::new(format!("reading it threw {message}")));
    }
    Err(ArgError::new(format!("N-API call failed with status {status}")))
}

fn coerce_to_string(env: Env, value: JsValue) -> Option<String> {
    let mut s = ptr::null_mut();
    if unsafe { sys::napi_coerce_to_string(env, value, &mut s) } != sys::Status::napi_ok {
        let mut exception = ptr::null_mut();
        unsafe { sys::napi_get_and_clear_last_exception(env, &mut exception) };
        return None;
    }
    read_string(env, s).ok()
}

pub(crate) fn type_of(env: Env, value: JsValue) -> sys::napi_valuetype {
    let mut t = sys::ValueType::napi_undefined;
    unsafe { sys::napi_typeof(env, value, &mut t) };
    t
}

/// Reads a JS string (the caller has checked the type). Strings that are not valid Unicode
/// (a lone UTF-16 surrogate) are refused: UTF-8 cannot hold them, and replacing them would
/// make two different ids the same.
fn read_string(env: Env, value: JsValue) -> ArgResult<String> {
    let mut len = 0usize;
    check(env, unsafe { sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len) })?;
    let mut buf = vec![0u8; len + 1];
    let mut written = 0usize;
    check(env, unsafe { sys::napi_get_value_string_utf8(env, value, buf.as_mut_ptr().cast(), len + 1, &mut written) })?;
    buf.truncate(written);
    // N-API writes valid UTF-8, with U+FFFD in place of lone surrogates.
    let text = String::from_utf8(buf).map_err(|_| ArgError::new("a string is not valid UTF-8"))?;
    if text.contains('\u{FFFD}') && has_lone_surrogate(env, value)? {
        return Err(ArgError::new("a string contains a lone UTF-16 surrogate, which is not valid Unicode"));
    }
    Ok(text)
}

/// Whether a string holds an unpaired surrogate (only asked when U+FFFD showed up).
fn has_lone_surrogate(env: Env, value: JsValue) -> ArgResult<bool> {
    let mut len = 0usize;
    check(env, unsafe { sys::napi_get_value_string_utf16(env, value, ptr::null_mut(), 0, &mut len) })?;
    let mut units = vec![0u16; len + 1];
    let mut written = 0usize;
    check(env, unsafe { sys::napi_get_value_string_utf16(env, value, units.as_mut_ptr(), len + 1, &mut written) })?;
    units.truncate(written);
    Ok(char::decode_utf16(units).any(|c| c.is_err()))
}

fn read_number(env: Env, value: JsValue) -> ArgResult<f64> {
    let mut n = 0f64;
    check(env, unsafe { sys::napi_get_value_double(env, value, &mut n) })?;
    Ok(n)
}

fn is(env: Env, value: JsValue, test: unsafe extern "C" fn(Env, JsValue, *mut bool) -> sys::napi_status) -> ArgResult<bool> {
    let mut result = false;
    check(env, unsafe { test(env, value, &mut result) })?;
    Ok(result)
}

fn array_length(env: Env, array: JsValue) -> ArgResult<u32> {
    let mut len = 0u32;
    check(env, unsafe { sys::napi_get_array_length(env, array, &mut len) })?;
    Ok(len)
}

fn element(env: Env, array: JsValue, index: u32) -> ArgResult<JsValue> {
    let mut item = ptr::null_mut();
    check(env, unsafe { sys::napi_get_element(env, array, index, &mut item) })?;
    Ok(item)
}

fn property(env: Env, object: JsValue, key: JsValue) -> ArgResult<JsValue> {
    let mut value = ptr::null_mut();
    check(env, unsafe { sys::napi_get_property(env, object, key, &mut value) })?;
    Ok(value)
}

/// The own enumerable string keys, in `Object.keys` order (what `JSON.stringify` visits).
fn own_keys(env: Env, object: JsValue) -> ArgResult<Vec<(String, JsValue)>> {
    let mut names = ptr::null_mut();
    check(env, unsafe {
        sys::napi_get_all_property_names(
            env,
            object,
            sys::KeyCollectionMode::own_only,
            sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
            sys::KeyConversion::numbers_to_strings,
            &mut names,
        )
    })?;
    let len = array_length(env, names)?;
    (0..len)
        .map(|i| {
            let key = element(env, names, i)?;
            Ok((read_string(env, key)?, key))
        })
        .collect()
}

/// A Buffer or Uint8Array argument, copied (it travels to the store's thread).
pub(crate) fn bytes_arg(env: Env, value: JsValue, what: &str) -> Result<Vec<u8>, StoreError> {
    let invalid = || StoreError::invalid(format!("{what} must be a Buffer or Uint8Array"));
    if !is(env, value, sys::napi_is_typedarray).map_err(|_| invalid())? {
        return Err(invalid());
    }
    let (mut kind, mut len, mut data, mut buffer, mut offset) = (0, 0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
    check(env, unsafe { sys::napi_get_typedarray_info(env, value, &mut kind, &mut len, &mut data, &mut buffer, &mut offset) })
        .map_err(|e| e.into_error(what))?;
    if kind != sys::TypedarrayType::uint8_array {
        return Err(invalid());
    }
    if len == 0 || data.is_null() {
        return Ok(Vec::new());
    }
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec())
}

/// A Node Buffer that takes ownership of `bytes` without copying them.
pub(crate) fn buffer(env: Env, bytes: Vec<u8>) -> Result<JsValue, StoreError> {
    unsafe extern "C" fn free(_: Env, _: *mut std::ffi::c_void, hint: *mut std::ffi::c_void) {
        drop(Box::from_raw(hint.cast::<Vec<u8>>()));
    }
    let mut out = ptr::null_mut();
    if bytes.is_empty() {
        let mut data = ptr::null_mut();
        napi_ok(unsafe { sys::napi_create_buffer(env, 0, &mut data, &mut out) })?;
        return Ok(out);
    }
    let boxed = Box::new(bytes);
    let (data, len) = (boxed.as_ptr() as *mut std::ffi::c_void, boxed.len());
    let hint = Box::into_raw(boxed);
    let status = unsafe { sys::napi_create_external_buffer(env, len, data, Some(free), hint.cast(), &mut out) };
    if status == sys::Status::napi_ok {
        return Ok(out);
    }
    // Runtimes that forbid external buffers (Electron's sandbox): copy instead.
    let bytes = unsafe { Box::from_raw(hint) };
    let mut copy = ptr::null_mut();
    napi_ok(unsafe { sys::napi_create_buffer_copy(env, bytes.len(), bytes.as_ptr().cast(), &mut copy, &mut out) })?;
    Ok(out)
}

/// Whether a value is `null` or `undefined`.
pub(crate) fn is_nullish(env: Env, value: JsValue) -> bool {
    matches!(type_of(env, value), sys::ValueType::napi_undefined | sys::ValueType::napi_null)
}

pub(crate) fn create_string(env: Env, s: &str, out: &mut JsValue) -> sys::napi_status {
    unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, out) }
}

pub(crate) fn napi_ok(status: sys::napi_status) -> Result<(), StoreError> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(StoreError::Io(format!("N-API call failed with status {status}")))
    }
}

/// A number argument, or `None` if the value is not a number.
pub(crate) fn number_arg(env: Env, value: JsValue) -> Option<f64> {
    if type_of(env, value) != sys::ValueType::napi_number {
        return None;
    }
    read_number(env, value).ok()
}

/// A boolean argument.
pub(crate) fn bool_arg(env: Env, value: JsValue, what: &str) -> Result<bool, StoreError> {
    let mut out = false;
    if type_of(env, value) == sys::ValueType::napi_boolean
        && unsafe { sys::napi_get_value_bool(env, value, &mut out) } == sys::Status::napi_ok
    {
        return Ok(out);
    }
    Err(StoreError::invalid(format!("{what} must be a boolean")))
}

/// A non-empty string argument, such as a session id.
pub(crate) fn string_arg(env: Env, value: JsValue, what: &str) -> Result<String, StoreError> {
    if type_of(env, value) == sys::ValueType::napi_string {
        let s = read_string(env, value).map_err(|e| e.into_error(what))?;
        if !s.is_empty() {
            return Ok(s);
        }
    }
    Err(StoreError::invalid(format!("{what} must be a non-empty string")))
}

/// An array of strings, such as the ids of `keys.get`.
pub(crate) fn string_array_arg(env: Env, value: JsValue, what: &str) -> Result<Vec<String>, StoreError> {
    let invalid = || StoreError::invalid(format!("{what} must be an array of strings"));
    let is_array = type_of(env, value) == sys::ValueType::napi_object && is(env, value, sys::napi_is_array).map_err(|_| invalid())?;
    if !is_array {
        return Err(invalid());
    }
    let len = array_length(env, value).map_err(|e| e.into_error(what))?;
    (0..len)
        .map(|i| {
            let item = element(env, value, i).map_err(|e| e.into_error(what))?;
            if type_of(env, item) != sys::ValueType::napi_string {
                return Err(invalid());
            }
            read_string(env, item).map_err(|e| e.into_error(what))
        })
        .collect()
}

/// The entries of a plain object argument (`keys.set`'s data and its per-type maps):
/// own enumerable string keys and their values.
pub(crate) fn object_entries(env: Env, value: JsValue, what: &str) -> Result<Vec<(String, JsValue)>, StoreError> {
    let is_array = is(env, value, sys::napi_is_array).unwrap_or(false);
    if type_of(env, value) != sys::ValueType::napi_object || is_array {
        return Err(StoreError::invalid(format!("{what} must be an object")));
    }
    let keys = own_keys(env, value).map_err(|e| e.into_error(what))?;
    keys.into_iter()
        .map(|(key, key_value)| {
            let item = property(env, value, key_value).map_err(|e| e.into_error(what))?;
            Ok((key, item))
        })
        .collect()
}
