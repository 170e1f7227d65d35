'use strict'
// JavaScript values ↔ the stored codec (docs/format.md), on the JavaScript thread. Twin of
// src/core/codec.rs: both are held to the golden vectors in tests/vectors/codec.json. How
// batches and results frame these values is lib/wire.js (twin of src/core/wire.rs).
//
// Baileys' own store keeps `JSON.stringify(v, BufferJSON.replacer)` and reads it back with
// `BufferJSON.reviver`; applications depend on exactly what that round trip returns. So the
// encoder walks a value as JSON.stringify does (own enumerable keys, toJSON once with its
// key, boxed primitives unwrapped, undefined properties dropped, undefined array items as
// null, non-finite numbers as null) and applies Baileys' Buffer rule (lib/buffer-json.js),
// but writes the compact binary codec instead of text: bytes stay raw, no base64. Values
// that JSON would silently damage are refused instead (see docs/format.md).
//
// Why JavaScript and not N-API: walking a value through N-API costs a native call per
// property, ten times the cost of V8's own property access. Here a value crosses into Rust
// as one Buffer, which Rust validates.

const { isUtf8 } = require('node:buffer')
const { ErrorCodes, storeError } = require('./errors.js')
const { classifyEntries, INTEGER_LIKE } = require('./buffer-json.js')

const FORMAT_VERSION = 1
const MAX_DEPTH = 128
const MAX_VALUE_BYTES = 512 * 1024 * 1024

const TAG_NULL = 0
const TAG_FALSE = 1
const TAG_TRUE = 2
const TAG_INT = 3
const TAG_FLOAT = 4
const TAG_STRING = 5
const TAG_BYTES = 6
const TAG_ARRAY = 7
const TAG_OBJECT = 8

/** Integers below this are written as varints; zigzag stays exact in a double below 2^52. */
const MAX_ZIGZAG = 2 ** 52

/** Why a value cannot be stored, with the path to the offending part. */
class Unstorable extends Error {
  constructor(reason) {
    super(reason)
    this.reason = reason
    this.path = []
  }
}

/** Builds the output; grows by doubling. */
class Writer {
  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size)
    this.pos = 0
  }

  ensure(n) {
    if (this.pos + n <= this.buf.length) return
    if (this.pos + n > MAX_VALUE_BYTES) throw new Unstorable(`it is larger than ${MAX_VALUE_BYTES >> 20} MiB`)
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const grown = Buffer.allocUnsafe(size)
    this.buf.copy(grown, 0, 0, this.pos)
    this.buf = grown
  }

  byte(b) {
    this.ensure(1)
    this.buf[this.pos++] = b
  }

  varint(n) {
    this.ensure(10)
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80
      n = Math.floor(n / 0x80)
    }
    this.buf[this.pos++] = n
  }

  raw(bytes) {
    const n = bytes.length // 0 for a detached array, which set() would refuse
    this.varint(n)
    if (n === 0) return
    this.ensure(n)
    this.buf.set(bytes, this.pos)
    this.pos += n
  }

  /** Writes a string (callers check well-formedness first, or use `wellFormedText`). */
  text(s) {
    if (!this.asciiText(s)) this.utf8Text(s)
  }

  /** Writes a string, refusing lone surrogates (an ASCII string has none, so it skips the check). */
  wellFormedText(s) {
    if (!this.asciiText(s)) this.utf8Text(checkString(s))
  }

  /** Writes `s` if it is ASCII and shorter than 16 KiB; returns whether it did. */
  asciiText(s) {
    const length = s.length
    // Keys, ids and libsignal's base64 fields are ASCII as a rule: copying them here costs
    // less than a call into Buffer's native UTF-8 writer. The length prefix is 1 or 2 bytes.
    if (length < 0x4000) {
      const head = length < 0x80 ? 1 : 2
      this.ensure(length * 3 + 10)
      const buf = this.buf
      const start = this.pos + head
      // Four characters a step, and one test at the end (a byte store keeps the low 8 bits;
      // `seen` keeps any high one): V8 does not unroll this loop itself, and the copy is the
      // largest part of encoding a session record. A non-ASCII string is rewritten as UTF-8
      // from the same position.
      let i = 0
      let seen = 0
      const quads = length & ~3
      for (; i < quads; i += 4) {
        const a = s.charCodeAt(i)
        const b = s.charCodeAt(i + 1)
        const c = s.charCodeAt(i + 2)
        const d = s.charCodeAt(i + 3)
        seen |= a | b | c | d
        buf[start + i] = a
        buf[start + i + 1] = b
        buf[start + i + 2] = c
        buf[start + i + 3] = d
      }
      for (; i < length; i++) {
        const c = s.charCodeAt(i)
        seen |= c
        buf[start + i] = c
      }
      if (seen < 0x80) {
        if (head === 1) {
          buf[this.pos] = length
        } else {
          buf[this.pos] = (length & 0x7f) | 0x80
          buf[this.pos + 1] = length >> 7
        }
        this.pos = start + length
        return true
      }
    }
    return false
  }

  utf8Text(s) {
    const length = s.length
    if (length * 3 < 0x80) {
      // Short, with non-ASCII characters: the byte length fits the one-byte prefix.
      this.ensure(length * 3 + 1)
      const at = this.pos++
      const n = this.buf.utf8Write(s, this.pos)
      this.buf[at] = n
      this.pos += n
    } else {
      this.varint(Buffer.byteLength(s))
      this.ensure(length * 3)
      this.pos += this.buf.utf8Write(s, this.pos)
    }
  }

  result() {
    return this.buf.subarray(0, this.pos)
  }
}

function writeNumber(w, n) {
  if ((n | 0) === n) {
    // An int32 (counters, ids, types; -0 too, written as 0): its zigzag is below 2^32, so
    // unsigned 32-bit shifts are exact.
    w.ensure(6)
    const buf = w.buf
    let pos = w.pos
    buf[pos++] = TAG_INT
    let z = n < 0 ? -2 * n - 1 : 2 * n
    while (z >= 0x80) {
      buf[pos++] = (z & 0x7f) | 0x80
      z >>>= 7
    }
    buf[pos++] = z
    w.pos = pos
    return
  }
  if (!Number.isFinite(n)) return w.byte(TAG_NULL)
  if (Number.isInteger(n) && Math.abs(n) < MAX_ZIGZAG) {
    w.byte(TAG_INT)
    // zigzag, in float arithmetic (exact below 2^52): JavaScript's bit operators stop at 32 bits
    return w.varint(n < 0 ? -2 * n - 1 : 2 * n + 0)
  }
  w.byte(TAG_FLOAT)
  w.ensure(8)
  w.buf.writeDoubleLE(n, w.pos)
  w.pos += 8
}

function checkString(s) {
  if (!s.isWellFormed()) throw new Unstorable('a string contains a lone UTF-16 surrogate, which is not valid Unicode')
  return s
}

/** JSON's first step for any object: its toJSON(key), if it has one. Uint8Arrays are
 * stored as bytes directly (what the replacer makes of Buffer.prototype.toJSON anyway). */
function toJSON(value, key) {
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && typeof value.toJSON === 'function') {
    return value.toJSON(key)
  }
  return value
}

const tagOf = (value) => Object.prototype.toString.call(value)

function writeValue(w, value, depth) {
  switch (typeof value) {
    case 'undefined':
      return w.byte(TAG_NULL)
    case 'boolean':
      return w.byte(value ? TAG_TRUE : TAG_FALSE)
    case 'number':
      return writeNumber(w, value)
    case 'string':
      w.byte(TAG_STRING)
      return w.wellFormedText(value)
    case 'object':
      if (value === null) return w.byte(TAG_NULL)
      return writeObject(w, value, depth)
    case 'bigint':
      throw new Unstorable('it is a BigInt')
    case 'function':
      throw new Unstorable('it is a function')
    case 'symbol':
      throw new Unstorable('it is a symbol')
    default:
      throw new Unstorable(`it has JavaScript type ${typeof value}`)
  }
}

function writeObject(w, value, depth) {
  if (depth >= MAX_DEPTH) throw new Unstorable(`it is circular or nested deeper than ${MAX_DEPTH} levels`)
  if (ArrayBuffer.isView(value)) {
    if (value instanceof Uint8Array || tagOf(value) === '[object Uint8Array]') {
      w.byte(TAG_BYTES)
      return w.raw(value)
    }
    throw new Unstorable('only Buffer and Uint8Array binary values can be stored')
  }
  if (Array.isArray(value)) {
    // Array.isArray sees through a Proxy, as JSON.stringify does.
    const length = value.length
    if (length > MAX_VALUE_BYTES) throw new Unstorable(`it is larger than ${MAX_VALUE_BYTES >> 20} MiB`)
    w.byte(TAG_ARRAY)
    w.varint(length)
    for (let i = 0; i < length; i++) {
      const key = String(i)
      try {
        writeValue(w, toJSON(value[i], key), depth + 1)
      } catch (err) {
        throw at(err, key)
      }
    }
    return
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) {
    const tag = tagOf(value)
    if (tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]') {
      throw new Unstorable('store a Buffer or Uint8Array, not an ArrayBuffer or SharedArrayBuffer')
    }
    // Boxed primitives are stored as their primitive value, as JSON.stringify does.
    if (value instanceof Number) return writeNumber(w, Number(value))
    if (value instanceof String) {
      w.byte(TAG_STRING)
      return w.wellFormedText(String(value))
    }
    if (value instanceof Boolean) return w.byte(value.valueOf() ? TAG_TRUE : TAG_FALSE)
  }
  const keys = Object.keys(value)
  if (mayBeSerializedBuffer(keys)) return writeCandidateObject(w, value, keys, depth)
  writePlainObject(w, value, keys, depth)
}

/**
 * An object whose keys alone do not make it a serialized Buffer (the common case: libsignal's
 * records, key pairs): written in one pass, each property read once, its toJSON applied and
 * the entry written straight away, as JSON.stringify walks it. The count is reserved for every
 * key and patched at the end, since properties that are undefined are dropped.
 *
 * Dropped properties can still make it one: `{0: 1, 1: 2, x: undefined}` is `{"0":1,"1":2}` to
 * JSON.stringify and to the folder import's reviver, so it is stored as the bytes 01 02, as
 * the Buffer rule judges the entries left after dropping (lib/buffer-json.js). So an object
 * whose first kept entry is an integer-like key holding a number goes on in writeNumericObject;
 * for the rest (libsignal's records: their first key is a name) this is the one test it costs.
 */
function writePlainObject(w, value, keys, depth) {
  const length = keys.length
  const countSize = varintSize(length)
  w.ensure(1 + countSize)
  const start = w.pos
  w.buf[start] = TAG_OBJECT
  w.pos += 1 + countSize
  let count = 0
  let key
  let item
  let i = 0
  try {
    for (; i < length; i++) {
      key = keys[i]
      item = value[key]
      if (typeof item === 'object' && item !== null) item = toJSON(item, key)
      // JSON.stringify drops properties that are (or whose toJSON gives) undefined.
      if (item === undefined) continue
      if (count === 0 && typeof item === 'number' && isIntegerLike(key)) break
      w.wellFormedText(key)
      writeValue(w, item, depth + 1)
      count++
    }
  } catch (err) {
    throw at(err, key)
  }
  if (i < length) return writeNumericObject(w, value, keys, i, item, start, countSize, depth)
  endObject(w, start, countSize, count)
}

/**
 * writePlainObject from the entry `keys[first]` (read: `item`) on, its first kept entry, an
 * integer-like key holding a number. While the kept entries are such, they are held back, not
 * written (writing a number calls nothing, so the bytes are those of writing them at once): at
 * the first kept entry that is not one, they are written and the walk goes on as in
 * writePlainObject; if every kept entry is one, the Buffer rule decides what the object is.
 */
function writeNumericObject(w, value, keys, first, item, start, countSize, depth) {
  const length = keys.length
  const heldKeys = [keys[first]]
  const heldItems = [item]
  let holding = true
  let count = 1
  let key
  try {
    for (let i = first + 1; i < length; i++) {
      key = keys[i]
      item = value[key]
      if (typeof item === 'object' && item !== null) item = toJSON(item, key)
      if (item === undefined) continue
      if (holding) {
        if (typeof item === 'number' && isIntegerLike(key)) {
          heldKeys.push(key)
          heldItems.push(item)
          count++
          continue
        }
        holding = false
        writeHeld(w, heldKeys, heldItems)
      }
      w.wellFormedText(key)
      writeValue(w, item, depth + 1)
      count++
    }
  } catch (err) {
    throw err instanceof HeldKeyError ? err.error : at(err, key)
  }
  if (holding) {
    // Every kept entry is an integer-like key holding a number: the Buffer rule decides.
    const bytes = serializedBuffer(heldKeys, heldItems, count)
    if (bytes) {
      w.pos = start
      w.byte(TAG_BYTES)
      return w.raw(bytes)
    }
    try {
      writeHeld(w, heldKeys, heldItems)
    } catch (err) {
      throw err instanceof HeldKeyError ? err.error : err
    }
  }
  endObject(w, start, countSize, count)
}

/** Carries an error already placed at a held-back key through the caller's catch. */
class HeldKeyError {
  constructor(error) {
    this.error = error
  }
}

/** The entries writeNumericObject held back: integer-like keys, each holding a number. */
function writeHeld(w, keys, items) {
  for (let i = 0; i < keys.length; i++) {
    try {
      w.wellFormedText(keys[i])
      writeNumber(w, items[i])
    } catch (err) {
      throw new HeldKeyError(at(err, keys[i]))
    }
  }
}

/** Patches an object's count, reserved in `countSize` bytes after its tag at `start`. */
function endObject(w, start, countSize, count) {
  const size = varintSize(count)
  if (size !== countSize) {
    // Dropped properties made the count's varint shorter: the bytes stay minimal.
    w.buf.copyWithin(start + 1 + size, start + 1 + countSize, w.pos)
    w.pos -= countSize - size
  }
  putVarint(w.buf, start + 1, count)
}

/**
 * Whether an object may be a serialized Buffer (lib/buffer-json.js), from its keys alone:
 * it names a tag (`type` or `buffer`), or every key is integer-like (an object of numbers).
 */
function mayBeSerializedBuffer(keys) {
  const length = keys.length
  if (length === 0) return false
  let integerLike = true
  for (let i = 0; i < length; i++) {
    const key = keys[i]
    if (key === 'type' || key === 'buffer') return true
    if (integerLike && !isIntegerLike(key)) integerLike = false
  }
  return integerLike
}

/** INTEGER_LIKE.test(key), without the regular expression for keys that start with a letter. */
function isIntegerLike(key) {
  const c = key.charCodeAt(0)
  // Only white space, a sign or a digit can start an integer-like key; letters are common
  // (and base64 ids, which start with a digit or a sign one time in six, end at their first letter).
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f) return false
  return INTEGER_LIKE.test(key)
}

/** An object that may be a serialized Buffer: its entries are read first, then classified. */
function writeCandidateObject(w, value, keys, depth) {
  const items = new Array(keys.length)
  let count = 0
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    let item
    try {
      item = toJSON(value[key], key)
    } catch (err) {
      throw at(err, key)
    }
    // JSON.stringify drops properties that are (or whose toJSON gives) undefined.
    if (item !== undefined) {
      keys[count] = key
      items[count++] = item
    }
  }
  const bytes = serializedBuffer(keys, items, count)
  if (bytes) {
    w.byte(TAG_BYTES)
    return w.raw(bytes)
  }
  w.byte(TAG_OBJECT)
  w.varint(count)
  for (let i = 0; i < count; i++) {
    w.wellFormedText(keys[i])
    try {
      writeValue(w, items[i], depth + 1)
    } catch (err) {
      throw at(err, keys[i])
    }
  }
}

function varintSize(n) {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    size++
  }
  return size
}

/** A minimal varint at buf[at], in the bytes varintSize(n) counted. */
function putVarint(buf, at, n) {
  while (n >= 0x80) {
    buf[at++] = (n % 0x80) | 0x80
    n = Math.floor(n / 0x80)
  }
  buf[at] = n
}

function at(err, key) {
  if (err instanceof Unstorable) err.path.unshift(key)
  else if (!(err instanceof RangeError && /call stack/i.test(err.message))) {
    // A getter or toJSON threw: report it as an unstorable value, keeping the cause.
    const wrapped = new Unstorable(`reading it threw ${err}`)
    wrapped.cause = err
    wrapped.path.unshift(key)
    return wrapped
  }
  return err
}

/**
 * The bytes of an object that is a serialized Buffer under Baileys' rule (lib/buffer-json.js),
 * or undefined; a broken one (data that is not base64, not bytes) cannot be stored.
 */
function serializedBuffer(keys, items, count) {
  const found = classifyEntries(keys, items, count)
  if (found?.broken) throw at(new Unstorable(found.broken), found.field)
  return found?.bytes
}

/**
 * Encodes one value. Throws an Unstorable error (ERR_INVALID_ARG) naming `what` and the
 * path of the offending part.
 */
function encodeValue(value, what, w = new Writer()) {
  const start = w.pos
  w.byte(FORMAT_VERSION)
  try {
    writeValue(w, toJSON(value, ''), 0)
  } catch (err) {
    throw unstorableError(err, what)
  }
  return start
}

function unstorableError(err, what) {
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    err = new Unstorable(`it is circular or nested deeper than ${MAX_DEPTH} levels`)
  }
  if (!(err instanceof Unstorable)) {
    const wrapped = new Unstorable(`reading it threw ${err}`)
    wrapped.cause = err
    err = wrapped
  }
  const shown = err.path.slice(0, 8).map((k) => `[${JSON.stringify(k)}]`).join('') + (err.path.length > 8 ? '…' : '')
  return storeError(ErrorCodes.INVALID_ARG, `${what}${shown} cannot be stored: ${err.reason}`, err.cause)
}

const invalid = (message) => storeError(ErrorCodes.INVALID_ARG, message)

/** The creds as one codec blob; they must serialize to an object. */
function encodeCreds(creds) {
  const w = new Writer(1024)
  encodeValue(creds, 'creds', w)
  if (w.buf[1] !== TAG_OBJECT) throw invalid('creds must serialize to an object')
  return w.result()
}

/** One value as a codec blob of its own; throws ERR_INVALID_ARG naming `what`. */
function encodeBlob(value, what) {
  const w = new Writer()
  encodeValue(value, what, w)
  return w.result()
}

// ---- decoding -------------------------------------------------------------------------

const corrupt = (why) => storeError(ErrorCodes.STORE_CORRUPT, `the store is corrupt: ${why}`)

class Reader {
  constructor(buf, pos, end) {
    this.buf = buf
    this.pos = pos
    this.end = end
  }

  byte() {
    if (this.pos >= this.end) throw corrupt('stored value is truncated')
    return this.buf[this.pos++]
  }

  varint() {
    let n = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      const b = this.byte()
      n += (b & 0x7f) * scale
      if (b < 0x80) return n
      scale *= 0x80
    }
    throw corrupt('stored varint is too long')
  }

  length(minItemSize) {
    const n = this.varint()
    if (n * minItemSize > this.end - this.pos) throw corrupt('stored value is truncated')
    return n
  }

  text() {
    const n = this.length(1)
    const end = this.pos + n
    const s = this.buf.utf8Slice(this.pos, end)
    // utf8Slice puts U+FFFD where the bytes are not UTF-8. Every stored string was valid UTF-8
    // when written, so a U+FFFD the bytes do not spell out is damage: an error, never a
    // silently different string. (Only strings holding U+FFFD pay for the second look.)
    if (s.includes('\uFFFD') && !isUtf8(this.buf.subarray(this.pos, end))) throw corrupt('a stored string is not valid UTF-8')
    this.pos = end
    return s
  }
}

// Property names repeat thousands of times in a value (a session record holds a thousand
// chains, each `{chainKey: {counter}, chainType, messageKeys}`): short ASCII keys are read
// through a direct-mapped cache of the strings last made, so a repeated key costs a hash and
// a compare instead of a new string, and V8 stores a property under the same string each time.
// A hit is checked byte for byte, so the cache can only ever return the key the bytes spell.
const KEY_CACHE_SLOTS = 1024 // a power of two
const KEY_CACHE_MAX_BYTES = 24 // libsignal's and Baileys' property names; base64 ids are longer
const keyCache = new Array(KEY_CACHE_SLOTS).fill('')

/** An object key: as Reader#text, through the cache when short and ASCII. */
function readKey(r) {
  const buf = r.buf
  const at = r.pos
  // One length byte (< 0x80) within bounds, else the general path (which reports damage).
  const n = at < r.end ? buf[at] : 0
  if (n === 0 || n > KEY_CACHE_MAX_BYTES || at + 1 + n > r.end) return r.text()
  const start = at + 1
  let hash = n
  let seen = 0
  for (let i = 0; i < n; i++) {
    const b = buf[start + i]
    seen |= b
    hash = (Math.imul(hash, 31) + b) | 0
  }
  if (seen >= 0x80) return r.text()
  r.pos = start + n
  const slot = hash & (KEY_CACHE_SLOTS - 1)
  const cached = keyCache[slot]
  if (cached.length === n) {
    let i = 0
    while (i < n && cached.charCodeAt(i) === buf[start + i]) i++
    if (i === n) return cached
  }
  const key = buf.latin1Slice(start, start + n) // ASCII, checked above
  keyCache[slot] = key
  return key
}

function bigZigzag(r) {
  let z = 0n
  let shift = 0n
  for (;;) {
    const b = r.byte()
    z |= BigInt(b & 0x7f) << shift
    if (b < 0x80) break
    shift += 7n
    if (shift > 63n) throw corrupt('stored varint is too long')
  }
  return Number(z & 1n ? -((z + 1n) >> 1n) : z >> 1n)
}

function readValue(r, depth) {
  if (depth > MAX_DEPTH) throw corrupt('stored value nests too deep')
  const tag = r.byte()
  switch (tag) {
    case TAG_NULL:
      return null
    case TAG_FALSE:
      return false
    case TAG_TRUE:
      return true
    case TAG_INT: {
      const start = r.pos
      const z = r.varint()
      if (z < 0x80000000) return (z >>> 1) ^ -(z & 1)
      if (z < MAX_ZIGZAG) return z % 2 === 0 ? z / 2 : -(z + 1) / 2
      // Rust writes integers up to 2^53 as varints: redo the large ones exactly.
      r.pos = start
      return bigZigzag(r)
    }
    case TAG_FLOAT: {
      if (r.end - r.pos < 8) throw corrupt('stored value is truncated')
      const n = r.buf.readDoubleLE(r.pos)
      r.pos += 8
      return n
    }
    case TAG_STRING:
      return r.text()
    case TAG_BYTES: {
      const n = r.length(1)
      // A copy: the result must not keep the whole read buffer alive. Small ones (keys,
      // MACs) are copied in a loop, which is cheaper than a native call for a few bytes.
      const bytes = Buffer.allocUnsafe(n)
      const buf = r.buf
      const at = r.pos
      if (n <= 64) for (let i = 0; i < n; i++) bytes[i] = buf[at + i]
      else buf.copy(bytes, 0, at, at + n)
      r.pos += n
      return bytes
    }
    case TAG_ARRAY: {
      const n = r.length(1)
      const array = new Array(n)
      for (let i = 0; i < n; i++) array[i] = readValue(r, depth + 1)
      return array
    }
    case TAG_OBJECT: {
      const n = r.length(2)
      const object = {}
      for (let i = 0; i < n; i++) {
        const key = readKey(r)
        setEntry(object, key, readValue(r, depth + 1))
      }
      return object
    }
    default:
      throw corrupt(`unknown value tag ${tag}`)
  }
}

/**
 * `object[key] = value` for a key that is data (an id, a type name): as JSON.parse does,
 * "__proto__" becomes an own property like any other key, never the object's prototype.
 */
function setEntry(object, key, value) {
  if (key === '__proto__') Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true })
  else object[key] = value
}

/** Decodes one codec blob in buf[start, end). */
function decodeValue(buf, start = 0, end = buf.length) {
  const r = new Reader(buf, start, end)
  const format = r.byte()
  if (format !== FORMAT_VERSION) throw corrupt(`stored value has unknown format ${format}`)
  const value = readValue(r, 0)
  if (r.pos !== end) throw corrupt('stored value has trailing bytes')
  return value
}

module.exports = { Writer, Reader, encodeValue, unstorableError, encodeCreds, encodeBlob, decodeValue, setEntry, corrupt, invalid }
