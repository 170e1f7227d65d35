// lib/codec.js against its own past: the encoder before issue 13's speedups (f409501, kept in
// __test__/fixtures/codec-f409501.cjs) is the spec for the bytes. Seeded random values, weighted
// to the corners where the fast paths branch (integer-like keys, dropped properties, toJSON,
// serialized-Buffer shapes, int32 and varint boundaries, ASCII / non-ASCII / lone surrogates,
// string and count lengths at the varint prefix sizes), are encoded by both: the bytes must be
// equal, a value the old encoder refused must be refused with the same code, and both decoders
// must read the bytes back alike.
import { createRequire } from 'node:module'
import { isDeepStrictEqual } from 'node:util'

import test from 'ava'

const require = createRequire(import.meta.url)
const current = require('../lib/codec.js')
const reference = require('./fixtures/codec-f409501.cjs')

const VALUES = 20_000
const SEED = Number(process.env.CODEC_DIFF_SEED ?? 0x13c0dec)

/** mulberry32: a small seeded generator, so a failure names a value that can be made again. */
function generator(seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n) => Math.floor(next() * n)
  const pick = (list) => list[int(list.length)]
  return { next, int, pick }
}

const INTEGER_LIKE_KEYS = ['0', '1', '2', '7', '10', '255', '01', '-1', '+3', ' 3', '\t4', '\uFEFF5', '\xA06', '1a', '2.5', '9e3', '3\uD800', '00']
const OTHER_KEYS = ['x', 'a', 'type', 'buffer', 'data', 'value', 'toJSON', '__proto__', '', ' ', '-', '+', 'é', 'ключ', '\uD83D\uDE00', '\uDC00', 'chainKey', 'AbC+/=', '_x', 'Z9']
const NUMBERS = [0, -0, 1, -1, 63, 64, -64, -65, 127, 128, 255, 256, -256, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32, 2 ** 52 - 1, 2 ** 52, -(2 ** 52), 2 ** 53, 1.5, -0.25, 1e300, 5e-324, NaN, Infinity, -Infinity, 0.1 + 0.2]
const CHARS = ['a', 'Z', '0', ' ', '~', '\x7f', '\x80', 'é', 'ÿ', 'Ā', '€', '中', '\uD83D\uDE00', '\uD800', '\uDFFF', '\0', '"', '\\']

function makeValue(r) {
  const string = () => {
    const lengths = [0, 1, 3, 4, 5, 41, 42, 43, 127, 128, 129, 300, 0x3fff, 0x4000]
    const n = r.next() < 0.9 ? r.int(12) : r.pick(lengths)
    const ascii = r.next() < 0.6
    let s = ''
    for (let i = 0; i < n; i++) {
      s += ascii || r.next() < 0.8 ? String.fromCharCode(0x20 + r.int(0x5f)) : r.pick(CHARS)
    }
    return s
  }
  const number = () => {
    const k = r.next()
    if (k < 0.5) return r.pick(NUMBERS)
    if (k < 0.7) return r.int(300) - 20
    if (k < 0.85) return (r.next() - 0.5) * 2 ** r.int(60)
    return Math.round((r.next() - 0.5) * 2 ** r.int(56))
  }
  const bytes = () => {
    const out = Buffer.alloc(r.next() < 0.9 ? r.int(40) : r.int(300))
    for (let i = 0; i < out.length; i++) out[i] = r.int(256)
    return out
  }
  const key = () => (r.next() < 0.5 ? r.pick(INTEGER_LIKE_KEYS) : r.next() < 0.7 ? r.pick(OTHER_KEYS) : string())

  const value = (depth) => {
    // Containers get rarer with depth, so a value stays small (a few dozen entries, mostly).
    const k = r.int(depth > 3 ? 8 : 24 - 2 * depth)
    switch (k) {
      case 0:
        return undefined
      case 1:
        return null
      case 2:
        return r.next() < 0.5
      case 3:
      case 4:
        return number()
      case 5:
      case 6:
        return string()
      case 7:
        return bytes()
      case 8: {
        const b = bytes()
        const views = [
          () => new Uint8Array(b),
          () => b.subarray(1),
          () => new Uint8ClampedArray(b),
          () => new Uint16Array(2),
          () => new Float64Array(1),
          () => new DataView(new ArrayBuffer(2)),
          () => new ArrayBuffer(3),
        ]
        return r.pick(views)()
      }
      case 9: {
        // A serialized Buffer, or something close to one.
        const b = bytes()
        const shapes = [
          () => ({ type: 'Buffer', data: b.toString('base64') }),
          () => ({ type: 'Buffer', data: [...b] }),
          () => ({ buffer: true, value: b.toString('base64') }),
          () => ({ type: 'Buffer', data: '%%' + b.toString('base64') }),
          () => ({ type: 'Buffer', data: [1, 256, 3] }),
          () => ({ type: 'Buffer', data: [1, , 3] }),
          () => ({ type: 'Buffer', data: undefined, x: 1 }),
          () => ({ type: 'Buffer', data: { toJSON: () => [...b] } }),
          () => ({ type: 'buffer', data: [1] }),
          () => ({ buffer: 'true', value: '' }),
          () => ({ data: [1, 2], type: 'Buffer', extra: undefined }),
          () => b.toJSON(),
          () => Object.fromEntries([...b].map((n, i) => [String(i), n])),
        ]
        return r.pick(shapes)()
      }
      case 10:
        return { toJSON: r.pick([() => undefined, () => 5, () => 'j', (key) => key, () => ({ 0: 1, y: undefined })]) }
      case 11:
        return r.pick([() => new Number(r.pick(NUMBERS)), () => new String(string()), () => new Boolean(r.next() < 0.5), () => new Date(r.int(2 ** 40)), () => Object(1n)])()
      case 12:
        return r.pick([() => 1n, () => () => 1, () => Symbol('s'), () => Object.create(null), () => new (class Thing { a = 1 })(), () => new Map([[1, 2]])])()
      case 13:
      case 14:
      case 15:
        return array(depth)
      default:
        return object(depth)
    }
  }

  const array = (depth) => {
    const n = depth < 2 && r.next() < 0.05 ? r.int(200) : r.int(6)
    const out = []
    for (let i = 0; i < n; i++) out.push(value(depth + 1))
    if (r.next() < 0.05) out.length += 2 // holes
    return out
  }

  const object = (depth) => {
    // Often the shape of issue 13's finding: integer-like keys holding numbers, with other
    // properties that are dropped (undefined, or a toJSON that gives undefined).
    const out = r.next() < 0.03 ? Object.create(null) : {}
    // Now and then past 127 entries, where the count's varint takes two bytes (and dropped
    // entries may bring it back to one).
    const n = depth < 2 && r.next() < 0.05 ? 120 + r.int(20) : r.int(7)
    const numeric = r.next() < 0.4
    for (let i = 0; i < n; i++) {
      const k = r.next()
      let name
      let item
      if (numeric && k < 0.6) {
        name = r.next() < 0.85 ? String(i) : r.pick(INTEGER_LIKE_KEYS)
        item = r.next() < 0.9 ? r.int(256) : number()
      } else if (numeric && k < 0.85) {
        name = key()
        // Dropped (JSON.stringify drops functions and symbols too, but the codec refuses them).
        item = r.next() < 0.95 ? r.pick([undefined, { toJSON: () => undefined }, { toJSON: (key) => (key === 'x' ? 1 : undefined) }]) : r.pick([() => 1, Symbol('s')])
      } else {
        name = key()
        item = value(depth + 1)
      }
      // (defined, not assigned: `__proto__` is an own key, and a key may repeat after a getter)
      // Now and then a getter (read once by each encoder), or a property JSON does not see.
      const odd = r.next() < 0.03
      const getter = odd && r.next() < 0.7
      Object.defineProperty(
        out,
        name,
        getter ? { get: () => item, enumerable: true, configurable: true } : { value: item, enumerable: !odd, configurable: true, writable: true },
      )
    }
    if (r.next() < 0.02) Object.defineProperty(out, 'boom', { get: () => { throw new Error('boom') }, enumerable: true })
    return out
  }

  if (r.next() < 0.005) {
    // Near and past the depth limit.
    let v = r.next() < 0.5 ? 1 : { 0: 1, x: undefined }
    const levels = 120 + r.int(15)
    for (let i = 0; i < levels; i++) v = r.next() < 0.5 ? [v] : { a: v }
    return v
  }
  return value(0)
}

function outcome(codec, value) {
  try {
    return { bytes: codec.encodeBlob(value, 'v') }
  } catch (err) {
    return { code: err.code ?? String(err) }
  }
}

test(`the encoder writes the bytes of the pre-issue-13 encoder (f409501) for ${VALUES} random values`, (t) => {
  const r = generator(SEED)
  const failures = []
  let refused = 0
  let objects = 0
  for (let i = 0; i < VALUES && failures.length < 5; i++) {
    const value = makeValue(r)
    const want = outcome(reference, value)
    const got = outcome(current, value)
    const shown = (o) => o.bytes?.toString('hex').slice(0, 160) ?? `refused with ${o.code}`
    if (want.code !== undefined) {
      refused++
      if (got.code !== want.code) failures.push(`value ${i}: f409501 ${shown(want)}, now ${shown(got)}`)
      continue
    }
    if (got.bytes === undefined || !got.bytes.equals(want.bytes)) {
      failures.push(`value ${i}: f409501 wrote ${shown(want)}, now ${shown(got)}`)
      continue
    }
    if (want.bytes[1] === 8) objects++
    if (!isDeepStrictEqual(current.decodeValue(got.bytes), reference.decodeValue(want.bytes))) {
      failures.push(`value ${i}: the decoders read ${shown(got)} differently`)
    }
  }
  t.deepEqual(failures, [], `seed ${SEED} (CODEC_DIFF_SEED)`)
  t.log(`seed ${SEED}: ${VALUES} values, ${objects} objects at the top, ${refused} refused by both with the same code`)
})
