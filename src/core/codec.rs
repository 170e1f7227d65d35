//! The value codec: how a JSON-like value (with raw byte strings) is stored.
//!
//! Baileys hands the store plain objects, arrays, strings, numbers, booleans, `null` and
//! Buffers. Its own file store writes them as JSON text with every Buffer base64-encoded
//! (`BufferJSON`); that costs a third more space and most of the time of a store. This codec
//! is a compact, self-describing binary form instead: bytes stay raw, integers are varints,
//! and a leading format byte lets later versions change the layout while still reading
//! old values. The format is documented in `docs/format.md`.
//!
//! Layout: `FORMAT_VERSION` followed by one value, where a value is a tag byte and its body:
//!
//! | tag | value | body |
//! | --- | --- | --- |
//! | 0 | null | none |
//! | 1, 2 | false, true | none |
//! | 3 | integer (|n| ≤ 2^53) | zigzag LEB128 varint |
//! | 4 | other number | f64, little-endian |
//! | 5 | string | varint byte length, UTF-8 |
//! | 6 | bytes (a Buffer) | varint length, raw bytes |
//! | 7 | array | varint count, then that many values |
//! | 8 | object | varint count, then that many (varint length + UTF-8 key, value) |

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::error::StoreError;
use super::varint::{self, VarintError};

/// The first byte of every encoded value.
pub const FORMAT_VERSION: u8 = 1;

/// How deep values may nest. Deeper input is rejected when stored, which also catches
/// circular objects; nothing Baileys stores comes near it.
pub const MAX_DEPTH: usize = 128;

const TAG_NULL: u8 = 0;
const TAG_FALSE: u8 = 1;
const TAG_TRUE: u8 = 2;
const TAG_INT: u8 = 3;
const TAG_FLOAT: u8 = 4;
const TAG_STRING: u8 = 5;
const TAG_BYTES: u8 = 6;
const TAG_ARRAY: u8 = 7;
const TAG_OBJECT: u8 = 8;

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_992.0;

/// A decoded value, for Rust callers (tests, tools). JavaScript has its own encoder and
/// decoder of this format (`lib/codec.js`); the binding checks its output with [`validate`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// Keys in insertion order, as JavaScript enumerates them.
    Object(Vec<(String, Value)>),
}

/// Writes one value in the codec's format. Containers announce their length first, so
/// callers write a header and then exactly that many items (objects: key, then value).
#[derive(Debug)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    pub fn new() -> Self {
        Self::with_capacity(64)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity.max(1));
        buf.push(FORMAT_VERSION);
        Encoder { buf }
    }

    pub fn null(&mut self) {
        self.buf.push(TAG_NULL);
    }

    pub fn bool(&mut self, value: bool) {
        self.buf.push(if value { TAG_TRUE } else { TAG_FALSE });
    }

    /// Numbers follow JSON: NaN and infinities become null, -0 becomes 0.
    pub fn number(&mut self, value: f64) {
        if !value.is_finite() {
            self.null();
        } else if value.fract() == 0.0 && value.abs() <= MAX_SAFE {
            self.buf.push(TAG_INT);
            let n = value as i64;
            self.varint(((n << 1) ^ (n >> 63)) as u64);
        } else {
            self.buf.push(TAG_FLOAT);
            self.buf.extend_from_slice(&value.to_le_bytes());
        }
    }

    pub fn string(&mut self, value: &str) {
        self.buf.push(TAG_STRING);
        self.raw_str(value);
    }

    pub fn bytes(&mut self, value: &[u8]) {
        self.buf.push(TAG_BYTES);
        self.varint(value.len() as u64);
        self.buf.extend_from_slice(value);
    }

    pub fn array_header(&mut self, len: usize) {
        self.buf.push(TAG_ARRAY);
        self.varint(len as u64);
    }

    pub fn object_header(&mut self, len: usize) {
        self.buf.push(TAG_OBJECT);
        self.varint(len as u64);
    }

    /// An object key; the value follows.
    pub fn key(&mut self, key: &str) {
        self.raw_str(key);
    }

    pub fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.null(),
            Value::Bool(b) => self.bool(*b),
            Value::Number(n) => self.number(*n),
            Value::String(s) => self.string(s),
            Value::Bytes(b) => self.bytes(b),
            Value::Array(items) => {
                self.array_header(items.len());
                items.iter().for_each(|item| self.value(item));
            }
            Value::Object(entries) => {
                self.object_header(entries.len());
                for (key, item) in entries {
                    self.key(key);
                    self.value(item);
                }
            }
        }
    }

    /// Bytes written so far, the format byte included.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing but the format byte has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.len() <= 1
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    fn raw_str(&mut self, value: &str) {
        self.varint(value.len() as u64);
        self.buf.extend_from_slice(value.as_bytes());
    }

    fn varint(&mut self, n: u64) {
        varint::write(&mut self.buf, n);
    }
}

/// One step of reading an encoded value. Containers give their length; the caller then
/// reads that many items (for objects: [`Reader::key`] then the value).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Token<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Str(&'a str),
    Bytes(&'a [u8]),
    Array(usize),
    Object(usize),
}

/// Reads an encoded value token by token, borrowing strings and bytes from the input.
/// Every length is checked against the input, so damaged data gives an error, never a
/// panic or a huge allocation.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Result<Self, StoreError> {
        match data.first() {
            Some(&FORMAT_VERSION) => Ok(Reader { data, pos: 1 }),
            Some(other) => Err(StoreError::corrupt(format!("stored value has unknown format {other}"))),
            None => Err(StoreError::corrupt("stored value is empty")),
        }
    }

    pub fn next_token(&mut self) -> Result<Token<'a>, StoreError> {
        let tag = self.byte()?;
        Ok(match tag {
            TAG_NULL => Token::Null,
            TAG_FALSE => Token::Bool(false),
            TAG_TRUE => Token::Bool(true),
            TAG_INT => {
                let z = self.varint()?;
                Token::Number(((z >> 1) as i64 ^ -((z & 1) as i64)) as f64)
            }
            TAG_FLOAT => {
                let raw = self.take(8)?;
                Token::Number(f64::from_le_bytes(raw.try_into().expect("8 bytes")))
            }
            TAG_STRING => Token::Str(self.raw_str()?),
            TAG_BYTES => {
                let len = self.length(1)?;
                Token::Bytes(self.take(len)?)
            }
            // Every item takes at least one byte (two for an object entry), which bounds
            // the count by what is left of the input.
            TAG_ARRAY => Token::Array(self.length(1)?),
            TAG_OBJECT => Token::Object(self.length(2)?),
            other => return Err(StoreError::corrupt(format!("unknown value tag {other}"))),
        })
    }

    pub fn key(&mut self) -> Result<&'a str, StoreError> {
        self.raw_str()
    }

    /// Checks that the whole input was consumed.
    pub fn finish(&self) -> Result<(), StoreError> {
        if self.pos == self.data.len() {
            Ok(())
        } else {
            Err(StoreError::corrupt("stored value has trailing bytes"))
        }
    }

    fn byte(&mut self) -> Result<u8, StoreError> {
        let b = *self.data.get(self.pos).ok_or_else(truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], StoreError> {
        let end = self.pos.checked_add(len).ok_or_else(truncated)?;
        let slice = self.data.get(self.pos..end).ok_or_else(truncated)?;
        self.pos = end;
        Ok(slice)
    }

    fn raw_str(&mut self) -> Result<&'a str, StoreError> {
        let len = self.length(1)?;
        std::str::from_utf8(self.take(len)?).map_err(|_| StoreError::corrupt("stored string is not UTF-8"))
    }

    /// A length prefix, rejected if the input cannot possibly hold that many items of
    /// `min_item_size` bytes.
    fn length(&mut self, min_item_size: usize) -> Result<usize, StoreError> {
        let n = self.varint()?;
        let left = (self.data.len() - self.pos) as u64;
        if n.saturating_mul(min_item_size as u64) > left {
            return Err(truncated());
        }
        Ok(n as usize)
    }

    fn varint(&mut self) -> Result<u64, StoreError> {
        varint::read(self.data, &mut self.pos).map_err(|e| match e {
            VarintError::Truncated => truncated(),
            VarintError::TooLong => StoreError::corrupt("stored varint is too long"),
        })
    }
}

fn truncated() -> StoreError {
    StoreError::corrupt("stored value is truncated")
}

/// Checks that `data` begins as a blob of this format does: the format byte, then a known value
/// tag. The byte check of values read back: a value of another format, another program's
/// bytes or an emptied row fail here at the cost of two bytes, and the decoder that reads the
/// value (`lib/codec.js`, or [`decode`]) walks the rest anyway, refusing a damaged body with the
/// same `ERR_STORE_CORRUPT`. Walking a 450 KB app-state value twice would double its read cost.
pub fn check_header(data: &[u8]) -> Result<(), StoreError> {
    match data {
        [] => Err(StoreError::corrupt("stored value is empty")),
        [FORMAT_VERSION] => Err(truncated()),
        [FORMAT_VERSION, tag, ..] if *tag <= TAG_OBJECT => Ok(()),
        [FORMAT_VERSION, tag, ..] => Err(StoreError::corrupt(format!("unknown value tag {tag}"))),
        [other, ..] => Err(StoreError::corrupt(format!("stored value has unknown format {other}"))),
    }
}

/// Whether an encoded value is an object (checks the tag only).
pub fn is_object(data: &[u8]) -> bool {
    data.len() >= 2 && data[0] == FORMAT_VERSION && data[1] == TAG_OBJECT
}

/// Checks that `data` is one well-formed encoded value, without building it.
///
/// This runs on every value written and on the creds read (the byte-check layer), so the
/// common case, a sound value, takes a fast path (`is_well_formed`: one loop, no error
/// values, ASCII strings checked a word at a time); only a damaged value is walked again by the
/// token reader, to say what is wrong with it.
pub fn validate(data: &[u8]) -> Result<(), StoreError> {
    if is_well_formed(data) {
        return Ok(());
    }
    let explained = validate_by_tokens(data);
    debug_assert!(explained.is_err(), "the fast check and the token reader disagree");
    explained.and(Err(StoreError::corrupt("stored value is malformed")))
}

/// Whether [`validate_by_tokens`] accepts `data`, decided without building an error: the same
/// checks (format byte, tags, lengths within the input, UTF-8 strings and keys, depth at most
/// [`MAX_DEPTH`], nothing trailing) in one loop over an explicit stack of open containers.
fn is_well_formed(data: &[u8]) -> bool {
    #[inline(always)]
    fn utf8(bytes: &[u8]) -> bool {
        bytes.is_ascii() || std::str::from_utf8(bytes).is_ok()
    }
    /// A length prefix whose items (`min_item_size` bytes each) fit in what is left.
    #[inline(always)]
    fn length(data: &[u8], pos: &mut usize, min_item_size: u64) -> Option<usize> {
        let n = varint::read(data, pos).ok()?;
        (n.saturating_mul(min_item_size) <= (data.len() - *pos) as u64).then_some(n as usize)
    }
    #[inline(always)]
    fn text(data: &[u8], pos: &mut usize) -> bool {
        let Some(len) = length(data, pos, 1) else { return false };
        let ok = utf8(&data[*pos..*pos + len]);
        *pos += len;
        ok
    }
    if data.first() != Some(&FORMAT_VERSION) {
        return false;
    }
    let mut pos = 1;
    // Items left in each open container, and whether it is an object (its items have keys).
    // Uninitialised: zeroing 2 KiB would cost more than checking a pre-key.
    let mut open = [std::mem::MaybeUninit::<(usize, bool)>::uninit(); MAX_DEPTH];
    let mut depth = 0;
    loop {
        // One value, inside `depth` open containers.
        if depth > MAX_DEPTH {
            return false;
        }
        let Some(&tag) = data.get(pos) else { return false };
        pos += 1;
        match tag {
            TAG_NULL | TAG_FALSE | TAG_TRUE => {}
            TAG_INT => {
                if varint::read(data, &mut pos).is_err() {
                    return false;
                }
            }
            TAG_FLOAT => {
                if data.len() - pos < 8 {
                    return false;
                }
                pos += 8;
            }
            TAG_STRING => {
                if !text(data, &mut pos) {
                    return false;
                }
            }
            TAG_BYTES => match length(data, &mut pos, 1) {
                Some(len) => pos += len,
                None => return false,
            },
            TAG_ARRAY | TAG_OBJECT => {
                let is_object = tag == TAG_OBJECT;
                let Some(count) = length(data, &mut pos, if is_object { 2 } else { 1 }) else { return false };
                if count > 0 {
                    if depth == MAX_DEPTH {
                        return false; // its first item would nest too deep
                    }
                    open[depth].write((count, is_object));
                    depth += 1;
                }
            }
            _ => return false,
        }
        // Move on to the next value: close the containers this value completed.
        loop {
            if depth == 0 {
                return pos == data.len();
            }
            // SAFETY: entries below `depth` were written when their container opened.
            let (left, is_object) = unsafe { open[depth - 1].assume_init_mut() };
            if *left == 0 {
                depth -= 1;
                continue;
            }
            *left -= 1;
            if *is_object && !text(data, &mut pos) {
                return false;
            }
            break;
        }
    }
}

/// [`validate`] by the token reader, which says what is wrong.
fn validate_by_tokens(data: &[u8]) -> Result<(), StoreError> {
    fn skip(reader: &mut Reader<'_>, depth: usize) -> Result<(), StoreError> {
        if depth > MAX_DEPTH {
            return Err(StoreError::corrupt("value nests too deep"));
        }
        match reader.next_token()? {
            Token::Array(len) => (0..len).try_for_each(|_| skip(reader, depth + 1)),
            Token::Object(len) => (0..len).try_for_each(|_| {
                reader.key()?;
                skip(reader, depth + 1)
            }),
            _ => Ok(()),
        }
    }
    let mut reader = Reader::new(data)?;
    skip(&mut reader, 0)?;
    reader.finish()
}

/// Encodes a whole [`Value`].
pub fn encode(value: &Value) -> Vec<u8> {
    let mut encoder = Encoder::new();
    encoder.value(value);
    encoder.finish()
}

/// Decodes a whole value, checking that nothing trails it.
pub fn decode(data: &[u8]) -> Result<Value, StoreError> {
    let mut reader = Reader::new(data)?;
    let value = read_value(&mut reader, 0)?;
    reader.finish()?;
    Ok(value)
}

fn read_value(reader: &mut Reader<'_>, depth: usize) -> Result<Value, StoreError> {
    if depth > MAX_DEPTH {
        return Err(StoreError::corrupt("stored value nests too deep"));
    }
    Ok(match reader.next_token()? {
        Token::Null => Value::Null,
        Token::Bool(b) => Value::Bool(b),
        Token::Number(n) => Value::Number(n),
        Token::Str(s) => Value::String(s.to_owned()),
        Token::Bytes(b) => Value::Bytes(b.to_vec()),
        Token::Array(len) => Value::Array((0..len).map(|_| read_value(reader, depth + 1)).collect::<Result<_, _>>()?),
        Token::Object(len) => {
            let mut entries = Vec::with_capacity(len);
            for _ in 0..len {
                let key = reader.key()?.to_owned();
                entries.push((key, read_value(reader, depth + 1)?));
            }
            Value::Object(entries)
        }
    })
}

impl Value {
    /// The value as Baileys' `BufferJSON.replacer` would write it: bytes become
    /// `{"type":"Buffer","data":"<base64>"}`. Used to show stored values to people.
    pub fn to_buffer_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => serde_json::Number::from_f64(*n).map_or(J::Null, |n| {
                // Integers print without a fraction, as JavaScript prints them.
                if n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() <= MAX_SAFE) {
                    J::from(n.as_f64().unwrap() as i64)
                } else {
                    J::Number(n)
                }
            }),
            Value::String(s) => J::String(s.clone()),
            Value::Bytes(b) => serde_json::json!({ "type": "Buffer", "data": BASE64.encode(b) }),
            Value::Array(items) => J::Array(items.iter().map(Value::to_buffer_json).collect()),
            Value::Object(entries) => J::Object(entries.iter().map(|(k, v)| (k.clone(), v.to_buffer_json())).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_accepts_encoded_values_and_refuses_damage() {
        let encoded = encode(&sample());
        validate(&encoded).unwrap();
        for len in 0..encoded.len() {
            assert!(validate(&encoded[..len]).is_err());
        }
    }

    #[test]
    fn the_fast_check_agrees_with_the_token_reader_on_damaged_and_sound_values() {
        let agree = |data: &[u8]| assert_eq!(is_well_formed(data), validate_by_tokens(data).is_ok(), "{data:?}");
        let mut nested = Value::Array(vec![]);
        for _ in 0..MAX_DEPTH {
            nested = Value::Array(vec![nested]);
        }
        let too_deep = encode(&Value::Array(vec![nested.clone()]));
        let samples = [encode(&sample()), encode(&nested), too_deep, encode(&Value::String("\u{1F600} ü".into()))];
        for encoded in &samples {
            agree(encoded);
            for len in 0..encoded.len() {
                agree(&encoded[..len]);
            }
            for i in 0..encoded.len() {
                for byte in [0, 1, 5, 7, 8, 0x7f, 0x80, 0xc3, 0xff] {
                    let mut damaged = encoded.clone();
                    damaged[i] = byte;
                    agree(&damaged);
                }
            }
            let mut trailing = encoded.clone();
            trailing.push(0);
            agree(&trailing);
        }
        assert!(is_well_formed(&samples[1]) && !is_well_formed(&samples[2]), "depth {MAX_DEPTH} is the limit");
        // Random input, as garbage_is_an_error_not_a_panic makes it.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut data = vec![FORMAT_VERSION];
            for _ in 0..(state % 40) as usize {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                data.push((state % 12) as u8 | if state & 0x100 != 0 { 0x80 } else { 0 });
            }
            agree(&data);
        }
    }

    fn sample() -> Value {
        Value::Object(vec![
            ("public".into(), Value::Bytes(vec![5; 33])),
            ("n".into(), Value::Number(-42.0)),
            ("big".into(), Value::Number(MAX_SAFE)),
            ("pi".into(), Value::Number(3.25)),
            ("s".into(), Value::String("héllo::1/2".into())),
            ("list".into(), Value::Array(vec![Value::Null, Value::Bool(true), Value::Bool(false)])),
            ("empty".into(), Value::Object(vec![])),
        ])
    }

    #[test]
    fn round_trips_every_kind_of_value() {
        let value = sample();
        assert_eq!(decode(&encode(&value)).unwrap(), value);
    }

    #[test]
    fn bytes_are_stored_raw_not_base64() {
        let encoded = encode(&Value::Bytes(vec![7; 32]));
        assert_eq!(encoded.len(), 1 + 1 + 1 + 32);
    }

    #[test]
    fn numbers_follow_json() {
        for (input, expected) in [
            (f64::NAN, Value::Null),
            (f64::INFINITY, Value::Null),
            (-0.0, Value::Number(0.0)),
            (1e300, Value::Number(1e300)),
            (-MAX_SAFE, Value::Number(-MAX_SAFE)),
        ] {
            let mut e = Encoder::new();
            e.number(input);
            assert_eq!(decode(&e.finish()).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let encoded = encode(&sample());
        for len in 0..encoded.len() {
            let err = decode(&encoded[..len]).unwrap_err();
            assert_eq!(err.code(), "ERR_STORE_CORRUPT");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        // A cheap deterministic generator; no dependency needed for this.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let len = (state % 40) as usize;
            let mut data = vec![FORMAT_VERSION];
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                data.push((state % 12) as u8 | if state & 0x100 != 0 { 0x80 } else { 0 });
            }
            let _ = decode(&data);
        }
    }

    #[test]
    fn huge_declared_lengths_are_rejected_before_allocating() {
        let data = [FORMAT_VERSION, TAG_ARRAY, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(decode(&data).unwrap_err().code(), "ERR_STORE_CORRUPT");
    }

    #[test]
    fn unknown_format_and_trailing_bytes_are_corrupt() {
        assert!(decode(&[99, TAG_NULL]).is_err());
        assert!(decode(&[FORMAT_VERSION, TAG_NULL, TAG_NULL]).is_err());
        assert!(decode(&[]).is_err());
    }

    #[test]
    fn tells_objects_from_other_values() {
        assert!(is_object(&encode(&Value::Object(vec![]))));
        assert!(!is_object(&encode(&Value::Null)));
        assert!(!is_object(&encode(&Value::Array(vec![]))));
    }

    #[test]
    fn renders_as_buffer_json() {
        let json = Value::Object(vec![("k".into(), Value::Bytes(vec![1, 2, 3])), ("n".into(), Value::Number(3.0))]).to_buffer_json();
        assert_eq!(json.to_string(), r#"{"k":{"data":"AQID","type":"Buffer"},"n":3}"#);
    }
}
