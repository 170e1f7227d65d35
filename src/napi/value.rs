//! JavaScript values to codec bytes and back, with the semantics of Baileys' own store.
//!
//! Baileys' `useMultiFileAuthState` stores `JSON.stringify(v, BufferJSON.replacer)` and reads
//! it back with `BufferJSON.reviver`. Applications depend on exactly what that round trip
//! returns, so [`encode`] walks a value the way `JSON.stringify` does (own enumerable string
//! keys, `toJSON`, `undefined` properties dropped, `undefined` array items as `null`,
//! non-finite numbers as `null`) and applies the replacer's and reviver's Buffer rules, but
//! writes the compact codec instead of text. [`decode`] builds plain objects, arrays and
//! Buffers, as the reviver does.
//!
//! Unlike `JSON.stringify`, values that would silently lose data are rejected: functions,
//! symbols, BigInts, ArrayBuffers, typed arrays other than Uint8Array, circular objects and
//! strings with lone surrogates (see `docs/format.md`).
//!
//! This module talks to N-API directly (`napi::sys`) because it visits every node of
//! large values; each call here is one N-API call, nothing more.

use std::ptr;

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use napi::sys;

use crate::core::codec::{Encoder, Reader, Token, MAX_DEPTH};
use crate::core::error::StoreError;

type Env = sys::napi_env;

/// Base64 as `Buffer.from(s, 'base64')` reads it: padding optional.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
type JsValue = sys::napi_value;

/// Why a value cannot be stored, and where in it (outermost key first once complete).
struct Unstorable {
    reason: String,
    path: Vec<String>,
}

impl Unstorable {
    fn new(reason: impl Into<String>) -> Self {
        Unstorable { reason: reason.into(), path: Vec::new() }
    }

    fn at(mut self, segment: &str) -> Self {
        self.path.push(segment.to_owned());
        self
    }

    fn into_error(mut self, what: &str) -> StoreError {
        self.path.reverse();
        // A circular value would otherwise print a path MAX_DEPTH segments long.
        const SHOWN: usize = 8;
        let mut location: String = self.path.iter().take(SHOWN).map(|s| format!("[{s:?}]")).collect();
        if self.path.len() > SHOWN {
            location.push('…');
        }
        StoreError::invalid(format!("{what}{location} cannot be stored: {}", self.reason))
    }
}

type Walk<T = ()> = Result<T, Unstorable>;

/// Checks an N-API status. A pending JavaScript exception (a throwing getter or `toJSON`)
/// is cleared and reported as the reason, so the caller gets one typed error.
fn check(env: Env, status: sys::napi_status) -> Walk {
    if status == sys::Status::napi_ok {
        return Ok(());
    }
    let mut pending = false;
    unsafe { sys::napi_is_exception_pending(env, &mut pending) };
    if pending {
        let mut exception = ptr::null_mut();
        unsafe { sys::napi_get_and_clear_last_exception(env, &mut exception) };
        let message = coerce_to_string(env, exception).unwrap_or_else(|| "an exception".into());
        return Err(Unstorable::new(format!("reading it threw {message}")));
    }
    Err(Unstorable::new(format!("N-API call failed with status {status}")))
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
fn read_string(env: Env, value: JsValue) -> Walk<String> {
    let mut len = 0usize;
    check(env, unsafe { sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len) })?;
    let mut buf = vec![0u8; len + 1];
    let mut written = 0usize;
    check(env, unsafe {
        sys::napi_get_value_string_utf8(env, value, buf.as_mut_ptr().cast(), len + 1, &mut written)
    })?;
    buf.truncate(written);
    // N-API writes valid UTF-8, with U+FFFD in place of lone surrogates.
    let text = String::from_utf8(buf).map_err(|_| Unstorable::new("a string is not valid UTF-8"))?;
    if text.contains('\u{FFFD}') && has_lone_surrogate(env, value)? {
        return Err(Unstorable::new("a string contains a lone UTF-16 surrogate, which is not valid Unicode"));
    }
    Ok(text)
}

/// Whether a string holds an unpaired surrogate (only asked when U+FFFD showed up).
fn has_lone_surrogate(env: Env, value: JsValue) -> Walk<bool> {
    let mut len = 0usize;
    check(env, unsafe { sys::napi_get_value_string_utf16(env, value, ptr::null_mut(), 0, &mut len) })?;
    let mut units = vec![0u16; len + 1];
    let mut written = 0usize;
    check(env, unsafe {
        sys::napi_get_value_string_utf16(env, value, units.as_mut_ptr(), len + 1, &mut written)
    })?;
    units.truncate(written);
    Ok(char::decode_utf16(units).any(|c| c.is_err()))
}

fn read_number(env: Env, value: JsValue) -> Walk<f64> {
    let mut n = 0f64;
    check(env, unsafe { sys::napi_get_value_double(env, value, &mut n) })?;
    Ok(n)
}

fn is(env: Env, value: JsValue, test: unsafe extern "C" fn(Env, JsValue, *mut bool) -> sys::napi_status) -> Walk<bool> {
    let mut result = false;
    check(env, unsafe { test(env, value, &mut result) })?;
    Ok(result)
}

fn array_length(env: Env, array: JsValue) -> Walk<u32> {
    let mut len = 0u32;
    check(env, unsafe { sys::napi_get_array_length(env, array, &mut len) })?;
    Ok(len)
}

fn element(env: Env, array: JsValue, index: u32) -> Walk<JsValue> {
    let mut item = ptr::null_mut();
    check(env, unsafe { sys::napi_get_element(env, array, index, &mut item) })?;
    Ok(item)
}

fn property(env: Env, object: JsValue, key: JsValue) -> Walk<JsValue> {
    let mut value = ptr::null_mut();
    check(env, unsafe { sys::napi_get_property(env, object, key, &mut value) })?;
    Ok(value)
}

fn named_property(env: Env, object: JsValue, name: &std::ffi::CStr) -> Walk<JsValue> {
    let mut value = ptr::null_mut();
    check(env, unsafe { sys::napi_get_named_property(env, object, name.as_ptr(), &mut value) })?;
    Ok(value)
}

/// The own enumerable string keys, in `Object.keys` order (what `JSON.stringify` visits).
fn own_keys(env: Env, object: JsValue) -> Walk<Vec<(String, JsValue)>> {
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

/// The largest value accepted, encoded. It keeps one value well under SQLite's 1 GB row
/// limit and stops a huge sparse array from exhausting memory.
pub(crate) const MAX_VALUE_BYTES: usize = 512 << 20;

/// Encodes a value for storage.
pub(crate) fn encode(env: Env, value: JsValue, what: &str) -> Result<Vec<u8>, StoreError> {
    let mut walker = Walker { env, out: Encoder::new(), intrinsics: None };
    walker.top(value).map_err(|e| e.into_error(what))?;
    Ok(walker.out.finish())
}

/// Encodes creds: like [`encode`], but the value must be an object once serialized (a `toJSON`
/// that returns `null` would otherwise erase the account's identity).
pub(crate) fn encode_object(env: Env, value: JsValue, what: &str) -> Result<Vec<u8>, StoreError> {
    let bytes = encode(env, value, what)?;
    if !crate::core::codec::is_object(&bytes) {
        return Err(StoreError::invalid(format!("{what} must serialize to an object")));
    }
    Ok(bytes)
}

/// Whether a value stands for "delete this key" in `keys.set`.
pub(crate) fn is_nullish(env: Env, value: JsValue) -> bool {
    matches!(type_of(env, value), sys::ValueType::napi_undefined | sys::ValueType::napi_null)
}

/// `Object.prototype` and `Object.prototype.toString`, looked up once per value and only if
/// the value holds an object that is not a plain object.
#[derive(Clone, Copy)]
struct Intrinsics {
    object_prototype: JsValue,
    to_string: JsValue,
}

/// Walks a value the way `JSON.stringify(value, BufferJSON.replacer)` does: for each value,
/// `toJSON` first (once), then the Buffer rules, then boxed primitives unwrapped, then the
/// value itself; properties that end up `undefined` are dropped.
struct Walker {
    env: Env,
    out: Encoder,
    intrinsics: Option<Intrinsics>,
}

impl Walker {
    fn top(&mut self, value: JsValue) -> Walk {
        let value = self.to_json(value, "")?;
        self.write(value, 0)
    }

    /// JSON's first step for any object: if it has a callable `toJSON`, use its result.
    /// Buffers and Uint8Arrays are stored as bytes directly (what the replacer makes of
    /// `Buffer.prototype.toJSON`'s output anyway).
    fn to_json(&self, value: JsValue, key: &str) -> Walk<JsValue> {
        let env = self.env;
        if type_of(env, value) != sys::ValueType::napi_object || is(env, value, sys::napi_is_typedarray)? {
            return Ok(value);
        }
        let to_json = named_property(env, value, c"toJSON")?;
        if type_of(env, to_json) != sys::ValueType::napi_function {
            return Ok(value);
        }
        let mut js_key = ptr::null_mut();
        check(env, create_string(env, key, &mut js_key))?;
        let mut result = ptr::null_mut();
        check(env, unsafe { sys::napi_call_function(env, value, to_json, 1, &js_key, &mut result) })?;
        Ok(result)
    }

    /// Writes a value whose `toJSON` has been applied.
    fn write(&mut self, value: JsValue, depth: usize) -> Walk {
        let env = self.env;
        match type_of(env, value) {
            sys::ValueType::napi_undefined | sys::ValueType::napi_null => self.out.null(),
            sys::ValueType::napi_boolean => self.out.bool(read_bool(env, value)?),
            sys::ValueType::napi_number => self.out.number(read_number(env, value)?),
            sys::ValueType::napi_string => self.out.string(&read_string(env, value)?),
            sys::ValueType::napi_object => self.object(value, depth)?,
            sys::ValueType::napi_bigint => return Err(Unstorable::new("it is a BigInt")),
            sys::ValueType::napi_function => return Err(Unstorable::new("it is a function")),
            sys::ValueType::napi_symbol => return Err(Unstorable::new("it is a symbol")),
            other => return Err(Unstorable::new(format!("it has JavaScript type {other}"))),
        }
        if self.out.len() > MAX_VALUE_BYTES {
            return Err(Unstorable::new(format!("it is larger than {} MiB", MAX_VALUE_BYTES >> 20)));
        }
        Ok(())
    }

    fn object(&mut self, value: JsValue, depth: usize) -> Walk {
        let env = self.env;
        if depth >= MAX_DEPTH {
            return Err(Unstorable::new(format!(
                "it is circular or nested deeper than {MAX_DEPTH} levels"
            )));
        }
        if let Some(bytes) = self.binary(value)? {
            self.out.bytes(bytes);
            return Ok(());
        }
        if is(env, value, sys::napi_is_array)? {
            return self.array(value, array_length(env, value)?, depth);
        }
        if !self.is_plain_object(value)? {
            // Exotic objects, told apart the way Object.prototype.toString tells them.
            match self.class_of(value)?.as_str() {
                // A Proxy of an array: JSON sees through it.
                "[object Array]" => {
                    let length = read_number(env, named_property(env, value, c"length")?)?;
                    return self.array(value, length as u32, depth);
                }
                "[object String]" => {
                    let mut s = ptr::null_mut();
                    check(env, unsafe { sys::napi_coerce_to_string(env, value, &mut s) })?;
                    self.out.string(&read_string(env, s)?);
                    return Ok(());
                }
                "[object Number]" => {
                    let mut n = ptr::null_mut();
                    check(env, unsafe { sys::napi_coerce_to_number(env, value, &mut n) })?;
                    self.out.number(read_number(env, n)?);
                    return Ok(());
                }
                "[object Boolean]" => {
                    let value_of = named_property(env, value, c"valueOf")?;
                    let mut b = ptr::null_mut();
                    check(env, unsafe { sys::napi_call_function(env, value, value_of, 0, ptr::null(), &mut b) })?;
                    self.out.bool(read_bool(env, b)?);
                    return Ok(());
                }
                "[object SharedArrayBuffer]" => {
                    return Err(Unstorable::new("store a Buffer or Uint8Array, not a SharedArrayBuffer"));
                }
                _ => {}
            }
        }
        let mut entries = Vec::new();
        for (key, key_value) in own_keys(env, value)? {
            let item = property(env, value, key_value)?;
            let item = self.to_json(item, &key).map_err(|e| e.at(&key))?;
            // JSON.stringify drops properties that are (or whose toJSON gives) undefined.
            if type_of(env, item) != sys::ValueType::napi_undefined {
                entries.push((key, item));
            }
        }
        if let Some(bytes) = self.serialized_buffer(&entries).map_err(|e| e.at("data"))? {
            self.out.bytes(&bytes);
            return Ok(());
        }
        self.out.object_header(entries.len());
        for (key, item) in entries {
            self.out.key(&key);
            self.write(item, depth + 1).map_err(|e| e.at(&key))?;
        }
        Ok(())
    }

    fn array(&mut self, array: JsValue, len: u32, depth: usize) -> Walk {
        // Every item takes at least a byte: refuse a huge (sparse) array before walking it.
        if len as usize > MAX_VALUE_BYTES {
            return Err(Unstorable::new(format!("it is larger than {} MiB", MAX_VALUE_BYTES >> 20)));
        }
        self.out.array_header(len as usize);
        for i in 0..len {
            let index = i.to_string();
            let item = element(self.env, array, i).map_err(|e| e.at(&index))?;
            // undefined items become null, as in JSON.
            let item = self.to_json(item, &index).map_err(|e| e.at(&index))?;
            self.write(item, depth + 1).map_err(|e| e.at(&index))?;
        }
        Ok(())
    }

    /// Whether the object's prototype is `Object.prototype`: the common case, which needs
    /// none of the checks for exotic objects.
    fn is_plain_object(&mut self, value: JsValue) -> Walk<bool> {
        let env = self.env;
        let intrinsics = self.intrinsics()?;
        let mut prototype = ptr::null_mut();
        check(env, unsafe { sys::napi_get_prototype(env, value, &mut prototype) })?;
        let mut same = false;
        check(env, unsafe { sys::napi_strict_equals(env, prototype, intrinsics.object_prototype, &mut same) })?;
        Ok(same)
    }

    fn class_of(&mut self, value: JsValue) -> Walk<String> {
        let env = self.env;
        let to_string = self.intrinsics()?.to_string;
        let mut tag = ptr::null_mut();
        check(env, unsafe { sys::napi_call_function(env, value, to_string, 0, ptr::null(), &mut tag) })?;
        read_string(env, tag)
    }

    fn intrinsics(&mut self) -> Walk<Intrinsics> {
        if let Some(found) = self.intrinsics {
            return Ok(found);
        }
        let env = self.env;
        let mut global = ptr::null_mut();
        check(env, unsafe { sys::napi_get_global(env, &mut global) })?;
        let object = named_property(env, global, c"Object")?;
        let object_prototype = named_property(env, object, c"prototype")?;
        let to_string = named_property(env, object_prototype, c"toString")?;
        let found = Intrinsics { object_prototype, to_string };
        self.intrinsics = Some(found);
        Ok(found)
    }

    /// The bytes of a Buffer or Uint8Array, borrowed from the JS heap; an error for binary
    /// containers that `JSON.stringify` would silently turn into `{}`.
    fn binary<'a>(&self, value: JsValue) -> Walk<Option<&'a [u8]>> {
        let env = self.env;
        if is(env, value, sys::napi_is_typedarray)? {
            let mut kind = 0;
            let mut len = 0usize;
            let mut data = ptr::null_mut();
            let mut buffer = ptr::null_mut();
            let mut offset = 0usize;
            check(env, unsafe {
                sys::napi_get_typedarray_info(env, value, &mut kind, &mut len, &mut data, &mut buffer, &mut offset)
            })?;
            if kind != sys::TypedarrayType::uint8_array {
                return Err(Unstorable::new("only Buffer and Uint8Array binary values can be stored"));
            }
            if len == 0 || data.is_null() {
                return Ok(Some(&[]));
            }
            // The slice is copied into the encoder before any JS runs again.
            return Ok(Some(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }));
        }
        if is(env, value, sys::napi_is_arraybuffer)? || is(env, value, sys::napi_is_dataview)? {
            return Err(Unstorable::new("store a Buffer or Uint8Array, not an ArrayBuffer or DataView"));
        }
        Ok(None)
    }

    /// Buffers that arrive already serialized, as Baileys' reviver would revive them:
    /// `{type: 'Buffer', data}` (base64 string or byte array, 6.7 and 7.0 shapes),
    /// `{buffer: true, value}` (6.7), and objects whose keys are all numeric and whose values
    /// are all finite numbers (a Uint8Array passed through `JSON.stringify` without a replacer).
    fn serialized_buffer(&self, entries: &[(String, JsValue)]) -> Walk<Option<Vec<u8>>> {
        let env = self.env;
        let field = |name: &str| entries.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
        let tagged = match (field("type"), field("data"), field("buffer"), field("value")) {
            (Some(t), Some(data), _, _) if self.is_string_equal(t, "Buffer")? => Some(data),
            (_, _, Some(flag), Some(value)) if self.is_true(flag)? => Some(value),
            _ => None,
        };
        if let Some(data) = tagged {
            return match type_of(env, data) {
                sys::ValueType::napi_string => BASE64
                    .decode(read_string(env, data)?)
                    .map(Some)
                    .map_err(|_| Unstorable::new("a serialized Buffer's data is not base64")),
                sys::ValueType::napi_object if is(env, data, sys::napi_is_array)? => {
                    let len = array_length(env, data)?;
                    let items: Vec<JsValue> = (0..len).map(|i| element(env, data, i)).collect::<Walk<_>>()?;
                    self.bytes_of_numbers(&items).map(Some)
                }
                _ => Ok(None),
            };
        }
        let numeric = !entries.is_empty()
            && entries.iter().all(|(k, v)| {
                starts_like_integer(k)
                    && type_of(env, *v) == sys::ValueType::napi_number
                    && read_number(env, *v).is_ok_and(f64::is_finite)
            });
        if numeric {
            let items: Vec<JsValue> = entries.iter().map(|(_, v)| *v).collect();
            return self.bytes_of_numbers(&items).map(Some);
        }
        Ok(None)
    }

    /// `Buffer.from(array)`: each item converted with ToUint8 (truncate, wrap modulo 256).
    fn bytes_of_numbers(&self, items: &[JsValue]) -> Walk<Vec<u8>> {
        items
            .iter()
            .map(|item| {
                if type_of(self.env, *item) != sys::ValueType::napi_number {
                    return Err(Unstorable::new("a serialized Buffer holds something other than numbers"));
                }
                let n = read_number(self.env, *item)?;
                Ok(if n.is_finite() { (n.trunc() as i64).rem_euclid(256) as u8 } else { 0 })
            })
            .collect()
    }

    fn is_string_equal(&self, value: JsValue, expected: &str) -> Walk<bool> {
        Ok(type_of(self.env, value) == sys::ValueType::napi_string && read_string(self.env, value)? == expected)
    }

    fn is_true(&self, value: JsValue) -> Walk<bool> {
        Ok(type_of(self.env, value) == sys::ValueType::napi_boolean && read_bool(self.env, value)?)
    }
}

fn read_bool(env: Env, value: JsValue) -> Walk<bool> {
    let mut b = false;
    check(env, unsafe { sys::napi_get_value_bool(env, value, &mut b) })?;
    Ok(b)
}

/// Whether `parseInt(key, 10)` is a number: JavaScript white space, an optional sign, a digit.
fn starts_like_integer(key: &str) -> bool {
    // JavaScript's white space is Unicode's, plus U+FEFF and minus U+0085.
    let rest = key.trim_start_matches(|c: char| c == '\u{FEFF}' || (c.is_whitespace() && c != '\u{85}'));
    let rest = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    rest.starts_with(|c: char| c.is_ascii_digit())
}

/// Builds the JS value of stored bytes: plain objects and arrays, Buffers for bytes.
pub(crate) fn decode(env: Env, data: &[u8]) -> Result<JsValue, StoreError> {
    let mut reader = Reader::new(data)?;
    let value = build(env, &mut reader, 0)?;
    reader.finish()?;
    Ok(value)
}

fn build(env: Env, reader: &mut Reader<'_>, depth: usize) -> Result<JsValue, StoreError> {
    if depth > MAX_DEPTH {
        return Err(StoreError::corrupt("stored value nests too deep"));
    }
    let mut out = ptr::null_mut();
    let status = match reader.next_token()? {
        Token::Null => unsafe { sys::napi_get_null(env, &mut out) },
        Token::Bool(b) => unsafe { sys::napi_get_boolean(env, b, &mut out) },
        Token::Number(n) => unsafe { sys::napi_create_double(env, n, &mut out) },
        Token::Str(s) => create_string(env, s, &mut out),
        Token::Bytes(b) => {
            let mut data = ptr::null_mut();
            unsafe { sys::napi_create_buffer_copy(env, b.len(), b.as_ptr().cast(), &mut data, &mut out) }
        }
        Token::Array(len) => {
            napi_ok(unsafe { sys::napi_create_array_with_length(env, len, &mut out) })?;
            for i in 0..len {
                let item = build(env, reader, depth + 1)?;
                napi_ok(unsafe { sys::napi_set_element(env, out, i as u32, item) })?;
            }
            sys::Status::napi_ok
        }
        Token::Object(len) => {
            napi_ok(unsafe { sys::napi_create_object(env, &mut out) })?;
            for _ in 0..len {
                let name = reader.key()?;
                let item = build(env, reader, depth + 1)?;
                set_own_property(env, out, name, item)?;
            }
            sys::Status::napi_ok
        }
    };
    napi_ok(status)?;
    Ok(out)
}

/// Sets `object[name] = value` as an own data property, as `JSON.parse` does; plain
/// assignment of `"__proto__"` would replace the object's prototype instead.
pub(crate) fn set_own_property(env: Env, object: JsValue, name: &str, value: JsValue) -> Result<(), StoreError> {
    let mut key = ptr::null_mut();
    napi_ok(create_string(env, name, &mut key))?;
    if name != "__proto__" {
        return napi_ok(unsafe { sys::napi_set_property(env, object, key, value) });
    }
    let descriptor = sys::napi_property_descriptor {
        utf8name: ptr::null(),
        name: key,
        method: None,
        getter: None,
        setter: None,
        value,
        attributes: sys::PropertyAttributes::writable
            | sys::PropertyAttributes::enumerable
            | sys::PropertyAttributes::configurable,
        data: ptr::null_mut(),
    };
    napi_ok(unsafe { sys::napi_define_properties(env, object, 1, &descriptor) })
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
    let is_array = type_of(env, value) == sys::ValueType::napi_object
        && is(env, value, sys::napi_is_array).map_err(|_| invalid())?;
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
