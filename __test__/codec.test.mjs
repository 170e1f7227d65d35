// The JavaScript side of the stored format (lib/codec.js), where it differs from JSON text.
import { createRequire } from 'node:module'

import test from 'ava'

const require = createRequire(import.meta.url)
const codec = require('../lib/codec.js')
const { replaceBuffers, reviveBuffers } = require('../lib/buffer-json.js')

const roundTrip = (value) => codec.decodeValue(codec.encodeCreds({ value })).value

test('numbers survive exactly, at every size and sign', (t) => {
  for (const n of [0, 1, -1, 127, -128, 2 ** 31, -(2 ** 31) - 1, 2 ** 52 - 1, -(2 ** 52) + 1, 2 ** 52, 2 ** 53, -(2 ** 53), 1.5, -0.1, 1e300, Number.MIN_VALUE]) {
    t.is(roundTrip(n), n, String(n))
  }
  t.is(Object.is(roundTrip(-0), 0), true, '-0 becomes 0, as in JSON')
  t.is(roundTrip(NaN), null)
})

test('integers written by the Rust encoder up to 2^53 decode exactly', (t) => {
  // Rust writes every integer with |n| <= 2^53 as a zigzag varint (tag 3): build those blobs.
  const blob = (n) => {
    let z = n < 0 ? -2n * BigInt(n) - 1n : 2n * BigInt(n)
    const bytes = [1, 3]
    while (z >= 0x80n) {
      bytes.push(Number(z & 0x7fn) | 0x80)
      z >>= 7n
    }
    bytes.push(Number(z))
    return Buffer.from(bytes)
  }
  for (const n of [2 ** 53, -(2 ** 53), 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 52 + 1, -(2 ** 52) - 1, 5, -5]) {
    t.is(codec.decodeValue(blob(n)), n, String(n))
  }
})

test('strings of every length and script survive', (t) => {
  for (const s of ['', 'a', 'x'.repeat(42), 'x'.repeat(43), 'ü'.repeat(50), '🤖 mixed ASCII and emoji', 'é'.repeat(10_000)]) {
    t.is(roundTrip(s), s)
  }
})

test('strings and keys at every length-prefix boundary are written as one minimal varint and UTF-8', (t) => {
  for (const n of [0, 1, 42, 43, 127, 128, 129, 16383, 16384, 20000]) {
    for (const s of ['x'.repeat(n), 'x'.repeat(Math.max(0, n - 1)) + 'é', 'é' + 'x'.repeat(Math.max(0, n - 1))]) {
      const blob = codec.encodeBlob({ [s]: s }, 'value')
      t.deepEqual(codec.decodeValue(blob), { [s]: s }, `length ${n}`)
      // format, object tag, count 1, then the key: its length prefix is the minimal varint.
      const bytes = Buffer.byteLength(s)
      const prefix = bytes < 0x80 ? [bytes] : bytes < 0x4000 ? [(bytes & 0x7f) | 0x80, bytes >> 7] : null
      if (prefix) t.deepEqual([...blob.subarray(3, 3 + prefix.length)], prefix, `prefix of length ${n}`)
      t.is(blob.length, 1 + 1 + 1 + 2 * (varintSize(bytes) + bytes) + 1)
    }
  }
  t.throws(() => codec.encodeBlob({ ['x'.repeat(200) + '\uD800']: 1 }, 'value'), { code: 'ERR_INVALID_ARG', message: /lone UTF-16 surrogate/ })
  t.throws(() => codec.encodeBlob('\uDC00' + 'x'.repeat(200), 'value'), { code: 'ERR_INVALID_ARG', message: /lone UTF-16 surrogate/ })
})

function varintSize(n) {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    size++
  }
  return size
}

test('damaged blobs are ERR_STORE_CORRUPT, never a wrong value', (t) => {
  const blob = codec.encodeCreds({ a: [1, 'two', Buffer.from([3])] })
  for (let len = 0; len < blob.length; len++) {
    t.throws(() => codec.decodeValue(blob.subarray(0, len)), { code: 'ERR_STORE_CORRUPT' })
  }
  t.throws(() => codec.decodeValue(Buffer.from([9, 0])), { code: 'ERR_STORE_CORRUPT' })
})

// ---- the fast paths (lib/codec.js): each must write the bytes the format's plain rules give ----

/** The format (docs/format.md) written from its rules, for values as JSON's round trip gives them. */
function reference(value) {
  const out = [1]
  const varint = (n) => {
    while (n >= 0x80) {
      out.push((n % 0x80) | 0x80)
      n = Math.floor(n / 0x80)
    }
    out.push(n)
  }
  const text = (s) => {
    const bytes = Buffer.from(s, 'utf8')
    varint(bytes.length)
    out.push(...bytes)
  }
  const write = (v) => {
    if (v === null) out.push(0)
    else if (v === false || v === true) out.push(v ? 2 : 1)
    else if (typeof v === 'number') {
      if (Number.isInteger(v) && Math.abs(v) < 2 ** 52) {
        out.push(3)
        varint(v < 0 ? -2 * v - 1 : 2 * v)
      } else {
        out.push(4)
        const b = Buffer.alloc(8)
        b.writeDoubleLE(v)
        out.push(...b)
      }
    } else if (typeof v === 'string') {
      out.push(5)
      text(v)
    } else if (Buffer.isBuffer(v)) {
      out.push(6)
      varint(v.length)
      out.push(...v)
    } else if (Array.isArray(v)) {
      out.push(7)
      varint(v.length)
      v.forEach(write)
    } else {
      const keys = Object.keys(v)
      out.push(8)
      varint(keys.length)
      for (const key of keys) {
        text(key)
        write(v[key])
      }
    }
  }
  write(value)
  return Buffer.from(out)
}

const viaJson = (value) => JSON.parse(JSON.stringify(value, replaceBuffers), reviveBuffers)

/** Encodes `value`, checks the bytes against the format's rules and the round trip against JSON's. */
function assertExact(t, value, label, json = viaJson) {
  const blob = codec.encodeBlob(value, 'value')
  const expected = json(value)
  t.deepEqual(blob, reference(expected), `${label}: bytes`)
  t.deepEqual(codec.decodeValue(blob), expected, `${label}: round trip`)
}

test('objects whose undefined properties shrink the count across a varint boundary keep minimal bytes', (t) => {
  for (const size of [1, 2, 127, 128, 129, 16383, 16384, 16385]) {
    for (const dropped of [1, 2, size]) {
      const value = {}
      for (let i = 0; i < size; i++) value[`k${i}`] = i < dropped ? undefined : i
      assertExact(t, value, `${size} keys, ${dropped} undefined`)
    }
  }
  // Dropped in the middle, and by toJSON, with nested values after them.
  assertExact(t, { a: 1, b: undefined, c: { toJSON: () => undefined }, d: { e: [undefined, 'x'] } }, 'middle')
})

test('integers at every varint and 32-bit boundary are written as the zigzag rule gives', (t) => {
  const values = [0, -0, 1, -1, 63, 64, -64, -65, 8191, 8192, -8192, -8193, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), 2 ** 52 - 1, -(2 ** 52) + 1, 0.5, -2.5]
  for (const n of values) assertExact(t, { n, list: [n] }, String(n))
})

test('the Buffer shapes are found wherever their keys are, and only there', (t) => {
  const one = Buffer.from([1])
  t.deepEqual(codec.decodeValue(codec.encodeBlob({ a: 1, type: 'Buffer', data: 'AQ==' }, 'value')), one, 'tag not first')
  t.deepEqual(codec.decodeValue(codec.encodeBlob({ z: 0, value: 'AQ==', buffer: true }, 'value')), one, '6.x shape, data first')
  t.deepEqual(codec.decodeValue(codec.encodeBlob({ ' 0': 1 }, 'value')), one, 'integer-like after white space')
  t.deepEqual(codec.decodeValue(codec.encodeBlob({ '+0': 1, '-1': 2 }, 'value')), Buffer.from([1, 2]), 'signed')
  for (const value of [{ type: 'Buffer' }, { a: 1, type: 'Buffer' }, { type: 'buffer', data: 'AQ==' }, { 0: 1, a: 2 }, { a: 1, 0: 2 }, { 0: 'x' }, { x0: 1 }, { _0: 1 }, {}]) {
    // (Baileys' replacer throws on a `type: 'Buffer'` object without data: these are plain JSON.)
    assertExact(t, value, JSON.stringify(value), (v) => JSON.parse(JSON.stringify(v), reviveBuffers))
  }
  t.throws(() => codec.encodeBlob({ a: 1, type: 'Buffer', data: '%%%' }, 'value'), { code: 'ERR_INVALID_ARG', message: /not base64/ })
})

test('each property is read once, in order, and an error names its path', (t) => {
  const reads = []
  const value = {}
  for (const key of ['a', 'b', 'c']) {
    Object.defineProperty(value, key, { enumerable: true, get: () => (reads.push(key), { inner: key }) })
  }
  assertExact(t, value, 'getters')
  t.deepEqual(reads, ['a', 'b', 'c', 'a', 'b', 'c'], 'once by the codec, once by the JSON reference')
  const error = t.throws(() => codec.encodeBlob({ ok: 1, deep: { list: [1, { f() {} }] } }, 'value'), { code: 'ERR_INVALID_ARG' })
  t.regex(error.message, /value\["deep"\]\["list"\]\["1"\]\["f"\] cannot be stored: it is a function/)
  const thrown = t.throws(() => codec.encodeBlob({ x: { get y() { throw new Error('boom') } } }, 'value'), { code: 'ERR_INVALID_ARG' })
  t.regex(thrown.message, /value\["x"\]\["y"\] cannot be stored: reading it threw Error: boom/)
})

test('decoded keys are exact whatever the key cache holds', (t) => {
  // Thousands of distinct keys of one length share the cache's slots; repeated keys hit it.
  const value = {}
  for (let i = 0; i < 5000; i++) value[`key${String(i).padStart(5, '0')}`] = { chainKey: { counter: i }, chainType: i & 1, messageKeys: {} }
  for (const key of ['', 'é', 'ü'.repeat(12), 'x'.repeat(24), 'x'.repeat(25), 'y'.repeat(200), '__proto__', 'constructor', '0', '🤖']) value[key] = key
  assertExact(t, value, 'many keys')
  const blob = codec.encodeBlob(value, 'value')
  t.deepEqual(codec.decodeValue(blob), codec.decodeValue(blob), 'a second decode, from a warm cache')
  t.is(Object.getPrototypeOf(codec.decodeValue(blob)), Object.prototype)
  // Keys that differ only in the last byte, read one after the other.
  const near = codec.decodeValue(codec.encodeBlob([{ ab: 1 }, { ac: 2 }, { ab: 3 }], 'value'))
  t.deepEqual(near, [{ ab: 1 }, { ac: 2 }, { ab: 3 }])
})

test('a damaged short key is ERR_STORE_CORRUPT, not a cached string', (t) => {
  codec.decodeValue(codec.encodeBlob({ ab: 1 }, 'value')) // warm the cache with "ab"
  // format, object, 1 entry, key of 2 bytes "a\xff", null
  t.throws(() => codec.decodeValue(Buffer.from([1, 8, 1, 2, 0x61, 0xff, 0])), { code: 'ERR_STORE_CORRUPT', message: /not valid UTF-8/ })
  // the key's length runs past the end
  t.throws(() => codec.decodeValue(Buffer.from([1, 8, 1, 5, 0x61, 0x62])), { code: 'ERR_STORE_CORRUPT' })
  t.throws(() => codec.decodeValue(Buffer.from([1, 8, 1, 2, 0x61, 0x62])), { code: 'ERR_STORE_CORRUPT', message: /truncated/ })
})

test('strings at the Writer growth boundaries and the ASCII/UTF-8 paths survive exactly', (t) => {
  // The Writer starts at 256 bytes and doubles: strings that end just before, at and after it.
  for (const n of [250, 251, 252, 253, 254, 255, 256, 509, 510, 511, 512, 16383, 16384, 70000]) {
    for (const s of ['a'.repeat(n), 'a'.repeat(n - 1) + 'é', 'é'.repeat(n >> 1), 'a'.repeat(n - 2) + '🤖']) {
      assertExact(t, { s, [s.slice(0, 40)]: s.length }, `length ${n}`)
      assertExact(t, [s, s], `array of length ${n}`)
    }
  }
})

test('one non-ASCII character anywhere in a short string sends it down the UTF-8 path', (t) => {
  // Including characters whose low byte is ASCII (U+0141 'Ł' stored as a byte would be 'A'),
  // at every position of the four-character steps and the tail.
  for (const odd of ['\u0080', 'é', '\u0100', 'Ł', '\u4141', '\uFFFF', '🤖']) {
    for (let length = 1; length <= 13; length++) {
      for (let at = 0; at < length; at++) {
        const s = 'a'.repeat(at) + odd + 'b'.repeat(length - at - 1)
        assertExact(t, { [s]: s }, `${JSON.stringify(odd)} at ${at} of ${length}`)
      }
    }
  }
  for (let at = 0; at < 9; at++) {
    t.throws(() => codec.encodeBlob('x'.repeat(at) + '\uD800' + 'y'.repeat(8 - at), 'value'), { code: 'ERR_INVALID_ARG', message: /lone UTF-16 surrogate/ })
  }
})

test('objects whose first keys are integer-like are objects unless every key is', (t) => {
  // Base64 ids start with a digit or a sign one time in six: an app-state index map.
  for (const first of ['0', '9', '+', '-', ' 1']) {
    const value = { [`${first}AbC=`]: { valueMac: Buffer.from([1]) } }
    for (let i = 0; i < 300; i++) value[`x${i}`] = { valueMac: Buffer.from([i & 0xff]) }
    assertExact(t, value, `first key ${first}`)
  }
  assertExact(t, { 1: 5, 2: 6, a: 7 }, 'numbers, one key not integer-like')
  t.deepEqual(codec.decodeValue(codec.encodeBlob({ 1: 5, 2: 6, ' 3': 7 }, 'value')), Buffer.from([5, 6, 7]), 'every key integer-like')
})
