// The JavaScript side of the stored format (lib/codec.js), where it differs from JSON text.
import { createRequire } from 'node:module'

import test from 'ava'

const require = createRequire(import.meta.url)
const codec = require('../lib/codec.js')

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
