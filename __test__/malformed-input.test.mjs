// No input, however malformed, crashes the process, and a bad call writes nothing.
//
// Every public entry point is fed hostile arguments: wrong types, Proxies and getters that
// throw, toJSON that throws or returns a function, circular and 10,000-level-deep values,
// sparse and huge arrays, strings with NUL and lone surrogates, binary containers that are
// not Uint8Array. Each call must return a promise (never throw synchronously) that either
// resolves or rejects with an AuthStoreError whose code is ERR_INVALID_ARG; a rejected
// keys.set or saveCreds must leave the store exactly as it was.
//
// Each test below that names a bug once failed against this package; they keep it fixed.
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

import test from 'ava'

import { ErrorCodes, isAuthStoreError, openStore, useRustAuthState } from '../index.mjs'
import { startRedis, stopAll } from './helpers/redis-server.mjs'
import { mysqlUrl, postgresUrl } from './helpers/sql-servers.mjs'

const baileys = await import('baileys')
const { BufferJSON } = baileys

// Any call that falls back to the default store (an options object without `store`) must
// not create ./baileys-auth.db in the working directory.
process.env.BAILEYS_AUTH_STORE = 'memory:'

const INVALID = ErrorCodes.INVALID_ARG

// ---- fixtures ---------------------------------------------------------------------------

// malformed-input-redis.test.mjs runs this whole suite again on Redis.
// The backend this run of the suite uses: SQLite unless a wrapper file chose another
// (malformed-input-redis.test.mjs, -postgres, -mysql).
const backend = process.env.BRA_MALFORMED_BACKEND ?? 'sqlite'
if (backend === 'redis') test.after.always(stopAll)

/** A new empty store's URL on this run's backend; `dir` is the test's temp dir. */
async function freshUrl(dir) {
  if (backend === 'redis') return (await startRedis({ unixSocket: true })).url
  if (backend === 'postgres') return postgresUrl()
  if (backend === 'mysql') return mysqlUrl()
  return `sqlite:${join(dir, 'auth.db')}`
}

/** A fresh store (a SQLite file in its own temp dir, a private Redis, a new schema or table prefix), closed after the test. */
async function freshStore(t) {
  const dir = await mkdtemp(join(tmpdir(), 'bra-malformed-'))
  const url = await freshUrl(dir)
  const store = await openStore(url)
  t.teardown(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { store, url, dir }
}

/** useRustAuthState on a fresh store. */
async function freshAuth(t, sessionId = 'victim@s.whatsapp.net') {
  const { store, url, dir } = await freshStore(t)
  const auth = await useRustAuthState(sessionId, { store, baileys })
  return { ...auth, url, dir, sessionId }
}

const preKey = (n) => ({ public: Buffer.alloc(32, n), private: Buffer.alloc(32, n + 1) })

/** What Baileys' own file store gives back for a value. */
const jsonRoundTrip = (value) => JSON.parse(JSON.stringify(value, BufferJSON.replacer), BufferJSON.reviver)

// ---- hostile values (built fresh for each use: some are stateful) -------------------------

const throwing = (what) => () => {
  throw new Error(`hostile ${what}`)
}
const proxyThrowingOn = (trap) => new Proxy({ a: 1 }, { [trap]: throwing(`${trap} trap`) })
const revokedProxy = () => {
  const { proxy, revoke } = Proxy.revocable({ a: 1 }, {})
  revoke()
  return proxy
}
function nested(levels, wrap) {
  let value = 'bottom'
  for (let i = 0; i < levels; i++) value = wrap(value)
  return value
}

/** Arguments that are not a non-empty string. */
const notStrings = () => [
  ['undefined', undefined],
  ['null', null],
  ['0', 0],
  ['NaN', NaN],
  ['a number', 42],
  ['true', true],
  ['a symbol', Symbol('id')],
  ['a BigInt', 10n],
  ['a function', () => 'id'],
  ['an array of a string', ['id']],
  ['a plain object', {}],
  ['an object whose toString returns a string', { toString: () => 'id' }],
  ['a boxed String', new String('id')],
  ['the empty string', ''],
  ['a Buffer', Buffer.from('id')],
  ['a Date', new Date()],
  ['a Proxy whose get trap throws', proxyThrowingOn('get')],
  ['a Proxy whose ownKeys trap throws', proxyThrowingOn('ownKeys')],
  ['a revoked Proxy', revokedProxy()],
]

/** `ids` arguments that are not an array of strings. */
const notIdArrays = () => [
  ['undefined', undefined],
  ['null', null],
  ['a string', 'id'],
  ['a number', 1],
  ['a symbol', Symbol('ids')],
  ['a function', () => ['id']],
  ['a plain object', {}],
  ['an array-like object', { length: 1, 0: 'id' }],
  ['a Set of strings', new Set(['id'])],
  ['an array holding a number', ['id', 1]],
  ['an array holding null', [null]],
  ['an array holding undefined', [undefined]],
  ['an array holding a symbol', [Symbol('id')]],
  ['an array holding an object', [{}]],
  ['an array holding an array', [['id']]],
  ['an array holding a boxed String', [new String('id')]],
  ['a sparse array', [, 'id']], // eslint-disable-line no-sparse-arrays
  ['100,000 ids ending with a number', [...Array.from({ length: 100_000 }, (_, i) => `id-${i}`), 7]],
  ['an array whose element getter throws', Object.defineProperty(['id'], 0, { get: throwing('element getter') })],
  ['a revoked Proxy', revokedProxy()],
]

/**
 * Values that cannot be stored: every one must reject with ERR_INVALID_ARG (the package's
 * promise: a function anywhere, symbol, BigInt, circular, ArrayBuffer, non-Uint8 typed
 * array, and anything whose reading throws).
 */
const unstorableValues = () => {
  const circular = { a: 1 }
  circular.self = circular
  const circularArray = [1]
  circularArray.push(circularArray)
  const indirect = { child: { list: [] } }
  indirect.child.list.push(indirect)
  return [
    ['a function', () => 1],
    ['a class', class Key {}],
    ['an async function', async () => 1],
    ['a symbol', Symbol('value')],
    ['a BigInt', 123n],
    ['a function deep inside an object', { a: [{ b: { c: () => 1 } }] }],
    ['a symbol as a property value', { s: Symbol('s') }],
    ['a BigInt inside an array', [1, 2n]],
    ['a circular object', circular],
    ['a circular array', circularArray],
    ['an object circular through a nested array', indirect],
    ['an ArrayBuffer', new ArrayBuffer(8)],
    ['a Float32Array', new Float32Array([1.5, 2])],
    ['a Float64Array', new Float64Array(2)],
    ['an Int8Array', new Int8Array(2)],
    ['a Uint16Array', new Uint16Array(2)],
    ['a Uint8ClampedArray', new Uint8ClampedArray(2)],
    ['a BigInt64Array', new BigInt64Array(2)],
    ['a DataView', new DataView(new ArrayBuffer(4))],
    ['a Float32Array nested in an object', { key: { pub: new Float32Array(8) } }],
    ['an object with a getter that throws', { ok: 1, get bad() { throw new Error('hostile getter') } }],
    ['a toJSON that throws', { toJSON: throwing('toJSON') }],
    ['a toJSON returning a function', { toJSON: () => () => 1 }],
    ['a toJSON returning a BigInt', { toJSON: () => 1n }],
    ['a Proxy whose get trap throws', proxyThrowingOn('get')],
    ['a Proxy whose ownKeys trap throws', proxyThrowingOn('ownKeys')],
    ['a Proxy whose getOwnPropertyDescriptor trap throws', proxyThrowingOn('getOwnPropertyDescriptor')],
    ['a revoked Proxy', revokedProxy()],
    ['an array whose element getter throws', Object.defineProperty([1, 2], 1, { get: throwing('element getter') })],
  ]
}

/**
 * Odd values that JSON can represent: each must be stored and come back exactly as
 * Baileys' own store gives it back (JSON with BufferJSON).
 */
const oddStorableValues = () => {
  const detached = new Uint8Array(new ArrayBuffer(8))
  structuredClone(detached.buffer, { transfer: [detached.buffer] })
  const sparse = []
  sparse[3] = 'three'
  const bigSparse = []
  bigSparse[99_999] = 'last'
  bigSparse[0] = 'first'
  const withHidden = Object.defineProperty({ shown: 1 }, 'hidden', { value: 2, enumerable: false })
  class Account {
    constructor() {
      this.id = 'me'
    }
    get derived() {
      return 'not own'
    }
  }
  const nullProto = Object.assign(Object.create(null), { a: 1 })
  return [
    ['a Date', new Date(1_700_000_000_000)],
    ['an invalid Date', new Date(NaN)],
    ['a Date nested in an object', { when: new Date(0) }],
    ['a Map', new Map([['k', 'v']])],
    ['a Set', new Set([1, 2])],
    ['a sparse array', sparse],
    ['a sparse array of length 100,000', bigSparse],
    ['undefined items in an array', [undefined, 1, undefined]],
    ['undefined properties', { gone: undefined, kept: 1 }],
    ['NaN and infinities', [NaN, Infinity, -Infinity, { n: NaN }]],
    ['negative zero', { z: -0 }],
    ['numbers at the edges', [Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2, -(2 ** 63), 0.1 + 0.2]],
    ['strings with NUL', { 'k\0ey': 'va\0lue', list: ['\0', '\0\0'] }],
    ['unicode beyond the BMP', { '🔑': 'émoji 🌍 \u2028 \uFEFF' }],
    ['a long string', 'x'.repeat(1 << 20)],
    ['an object with 10,000 keys', Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]))],
    ['symbol keys', { [Symbol('hidden')]: 1, visible: 2 }],
    ['non-enumerable properties', withHidden],
    ['inherited properties', Object.create({ inherited: 1 }, { own: { value: 2, enumerable: true } })],
    ['a class instance', new Account()],
    ['an object without a prototype', nullProto],
    ['a Buffer view into a larger buffer', Buffer.from(Array.from({ length: 64 }, (_, i) => i)).subarray(8, 40)],
    ['an empty Buffer', Buffer.alloc(0)],
    ['a Uint8Array', new Uint8Array([1, 2, 3])],
    ['a Uint8Array over a SharedArrayBuffer', new Uint8Array(new SharedArrayBuffer(4))],
    ['a detached Uint8Array', detached],
    ['a toJSON returning a Buffer', { toJSON: () => Buffer.from([9, 8, 7]) }],
    ['a toJSON returning a nested object', { toJSON: () => ({ a: [1, { b: 'c' }] }) }],
    ['a Buffer serialized without a replacer', JSON.parse(JSON.stringify(Buffer.from([1, 2, 3])))],
    ['an object with numeric keys and numbers (revived as a Buffer)', { 0: 1, 1: 2, 2: 255 }],
  ]
}

/** Calls `call` and reports how it went, without letting a synchronous throw escape. */
async function outcomeOf(call) {
  let result
  try {
    result = call()
  } catch (err) {
    return { kind: 'threw synchronously', err }
  }
  if (typeof result?.then !== 'function') return { kind: 'returned a non-promise', value: result }
  try {
    return { kind: 'resolved', value: await result }
  } catch (err) {
    return { kind: 'rejected', err }
  }
}

const describe = (outcome) =>
  outcome.err ? `${outcome.kind}: ${outcome.err?.code ?? 'no code'} ${outcome.err?.message ?? String(outcome.err)}` : outcome.kind

/** The call must reject with an ERR_INVALID_ARG AuthStoreError. */
async function assertRejectsInvalid(t, call, label) {
  const outcome = await outcomeOf(call)
  const ok = outcome.kind === 'rejected' && isAuthStoreError(outcome.err) && outcome.err.code === INVALID
  t.true(ok, `${label}: expected a rejection with ${INVALID}, got ${describe(outcome)}`)
  return outcome
}

/** The call must resolve, or reject with an ERR_INVALID_ARG AuthStoreError. */
async function assertSettlesSafely(t, call, label) {
  const outcome = await outcomeOf(call)
  const ok =
    outcome.kind === 'resolved' ||
    (outcome.kind === 'rejected' && isAuthStoreError(outcome.err) && outcome.err.code === INVALID)
  t.true(ok, `${label}: expected to resolve or reject with ${INVALID}, got ${describe(outcome)}`)
  return outcome
}

/** Runs a snippet of ESM in a separate Node process (for inputs that may kill the process). */
async function runIsolated(code) {
  const indexUrl = new URL('../index.mjs', import.meta.url).href
  const source = `import * as api from ${JSON.stringify(indexUrl)}\n${code}`
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', source], {
      timeout: 20_000,
    })
    return { exitCode: 0, stdout }
  } catch (err) {
    return { exitCode: err.code, signal: err.signal, stdout: err.stdout, stderr: err.stderr }
  }
}

// ---- useRustAuthState -------------------------------------------------------------------

test('useRustAuthState rejects every sessionId that is not a non-empty string', async (t) => {
  const { store } = await freshStore(t)
  for (const [label, sessionId] of notStrings()) {
    await assertRejectsInvalid(t, () => useRustAuthState(sessionId, { store, baileys }), `sessionId ${label}`)
  }
  t.deepEqual(await store.sessions(), [])
})

test('useRustAuthState rejects options that are not an object', async (t) => {
  for (const [label, options] of [
    ['null', null],
    ['a number', 5],
    ['a store URL string', 'memory:'],
    ['a symbol', Symbol('options')],
    ['a BigInt', 1n],
    ['true', true],
    ['a function', () => ({ store: 'memory:' })],
  ]) {
    await assertRejectsInvalid(t, () => useRustAuthState('s', options), `options ${label}`)
  }
})

test('useRustAuthState rejects a store option that is neither a URL nor an AuthStore', async (t) => {
  for (const [label, store] of [
    ['a number', 5],
    ['the empty string', ''],
    ['a plain object', {}],
    ['an array', ['memory:']],
    ['a symbol', Symbol('store')],
    ['a function', () => 'memory:'],
    ['a Proxy whose get trap throws', proxyThrowingOn('get')],
    ['a URL of an unknown scheme', 'ftp://localhost/auth'],
    ['a PostgreSQL URL with a MySQL option', 'postgres://localhost/auth?tablePrefix=x'],
    ['a sqlite URL without a path', 'sqlite:'],
    ['a sqlite URL with an empty path', 'sqlite://'],
  ]) {
    await assertRejectsInvalid(t, () => useRustAuthState('s', { store, baileys }), `store ${label}`)
  }
})

test('useRustAuthState rejects a baileys option that is not the Baileys module', async (t) => {
  const { store } = await freshStore(t)
  for (const [label, module] of [
    ['null', null],
    ['a number', 5],
    ['a string', 'baileys'],
    ['an empty object', {}],
    ['an object whose initAuthCreds is not a function', { initAuthCreds: 'nope' }],
  ]) {
    await assertRejectsInvalid(t, () => useRustAuthState('s', { store, baileys: module }), `baileys ${label}`)
  }
  t.deepEqual(await store.sessions(), [])
})

// Regression: a getter (or Proxy trap) that throws while useRustAuthState reads its options makes
// it reject with that raw Error, which has no `code`, although index.d.ts promises that every
// error of the package carries one of ErrorCodes (keys.set wraps the same situation in
// ERR_INVALID_ARG). Repro:
//   await useRustAuthState('s', { get store() { throw new Error('boom') } })  // rejects, err.code === undefined
test('useRustAuthState rejects options whose getters throw with ERR_INVALID_ARG', async (t) => {
  const { store } = await freshStore(t)
  for (const [label, options] of [
    ['a Proxy whose get trap throws', proxyThrowingOn('get')],
    ['an options object whose store getter throws', { get store() { throw new Error('hostile getter') } }],
    ['a baileys option whose get trap throws', { store, baileys: proxyThrowingOn('get') }],
  ]) {
    await assertRejectsInvalid(t, () => useRustAuthState('s', options), `options ${label}`)
  }
})

// ---- keys.get / store.getKeys -----------------------------------------------------------

test('keys.get rejects every key type that is not a non-empty string', async (t) => {
  const { state } = await freshAuth(t)
  for (const [label, type] of notStrings()) {
    await assertRejectsInvalid(t, () => state.keys.get(type, ['1']), `type ${label}`)
  }
})

test('keys.get rejects every ids argument that is not an array of strings', async (t) => {
  const { state } = await freshAuth(t)
  for (const [label, ids] of notIdArrays()) {
    await assertRejectsInvalid(t, () => state.keys.get('pre-key', ids), `ids ${label}`)
  }
})

test('keys.get answers 100,000 ids with every id as a key', async (t) => {
  const { state } = await freshAuth(t)
  await state.keys.set({ 'pre-key': { 'id-5': preKey(5), 'id-99999': preKey(9) } })
  const ids = Array.from({ length: 100_000 }, (_, i) => `id-${i}`)
  const result = await state.keys.get('pre-key', ids)
  t.is(Object.keys(result).length, ids.length)
  t.deepEqual(result['id-5'], preKey(5))
  t.deepEqual(result['id-99999'], preKey(9))
  t.is(result['id-0'], null)
  t.is(Object.values(result).filter((v) => v !== null).length, 2)
})

test('keys.get answers odd but valid ids: empty list, duplicates, NUL, prototype names', async (t) => {
  const { state } = await freshAuth(t)
  const long = 'x'.repeat(10_000)
  const sqlServer = backend === 'mysql' || backend === 'postgres'
  if (sqlServer) {
    // An index entry is bounded (InnoDB 3,072 bytes, a PostgreSQL btree 2,704): a SQL store
    // takes ids up to 1,024 bytes (docs/mysql.md, docs/postgres.md) and refuses a longer one
    // whole, writing nothing of its batch; a get of such an id answers null, as it cannot exist.
    const err = await t.throwsAsync(state.keys.set({ session: { short: { i: 0 }, [long]: { i: 1 } } }))
    t.is(err.code, 'ERR_INVALID_ARG')
    t.deepEqual(await state.keys.get('session', ['short']), { short: null })
    t.deepEqual(await state.keys.get('session', [long]), { [long]: null })
  }
  const odd = ['a\0b', '\0', 'constructor', 'toString', 'hasOwnProperty', sqlServer ? 'x'.repeat(1024) : long, ' ', '🔑']
  await state.keys.set({ session: Object.fromEntries(odd.map((id, i) => [id, { i }])) })
  t.deepEqual(await state.keys.get('session', []), {})
  const result = await state.keys.get('session', [...odd, ...odd, 'missing'])
  t.deepEqual(Object.keys(result).sort(), [...odd, 'missing'].sort())
  odd.forEach((id, i) => t.deepEqual(result[id], { i }, JSON.stringify(id)))
  t.is(result.missing, null)
  t.deepEqual(await state.keys.get('session\0other', ['a\0b']), { 'a\0b': null }, 'a type with NUL is its own type')
})

test('session ids with NUL are ordinary strings, distinct from their prefixes', async (t) => {
  const { store } = await freshStore(t)
  await store.setCreds('a\0b', { registered: true })
  await store.setKeys('a\0b', { 'pre-key': { 1: preKey(1) } })
  t.is(await store.getCreds('a'), null)
  t.deepEqual(await store.getKeys('a', 'pre-key', ['1']), { 1: null })
  t.deepEqual(await store.getCreds('a\0b'), { registered: true })
  t.deepEqual(await store.sessions(), ['a\0b'])
})

test('store.getKeys rejects every malformed sessionId, type and ids', async (t) => {
  const { store } = await freshStore(t)
  for (const [label, bad] of notStrings()) {
    await assertRejectsInvalid(t, () => store.getKeys(bad, 'pre-key', ['1']), `sessionId ${label}`)
    await assertRejectsInvalid(t, () => store.getKeys('s', bad, ['1']), `type ${label}`)
  }
  for (const [label, ids] of notIdArrays()) {
    await assertRejectsInvalid(t, () => store.getKeys('s', 'pre-key', ids), `ids ${label}`)
  }
  await assertRejectsInvalid(t, () => store.getKeys(), 'no arguments')
})

// Regression: strings are converted with napi_get_value_string_utf8, which replaces a lone surrogate
// with U+FFFD, so distinct ids (and distinct session ids) collide, and the result of get()
// is keyed by the replaced id, not the requested one. Repro:
//   await keys.set({ session: { 'a\uD800': { n: 1 } } })
//   await keys.get('session', ['a\uD801'])  // -> { 'a\uFFFD': { n: 1 } }: wrong key, another id's value
// (store.setCreds('u\uD800', c) likewise makes store.getCreds('u\uD801') return c.)
test('ids with lone surrogates are either rejected or kept distinct and returned as given', async (t) => {
  const { state } = await freshAuth(t)
  const set = await assertSettlesSafely(t, () => state.keys.set({ session: { 'a\uD800': { n: 1 } } }), 'set')
  if (set.kind === 'rejected') return
  const get = await assertSettlesSafely(t, () => state.keys.get('session', ['a\uD800', 'a\uD801']), 'get')
  if (get.kind === 'rejected') return
  t.deepEqual(Object.keys(get.value).sort(), ['a\uD800', 'a\uD801'].sort())
  t.deepEqual(get.value['a\uD800'], { n: 1 })
  t.is(get.value['a\uD801'], null)
})

// Regression: same root cause as above, for session ids: two sessions whose ids differ only in a
// lone surrogate share their creds and keys. Repro:
//   await store.setCreds('u\uD800', { registered: true }); await store.getCreds('u\uD801')  // { registered: true }
test('session ids with lone surrogates are either rejected or kept distinct', async (t) => {
  const { store } = await freshStore(t)
  const set = await assertSettlesSafely(t, () => store.setCreds('u\uD800', { registered: true }), 'setCreds')
  if (set.kind === 'rejected') return
  const get = await assertSettlesSafely(t, () => store.getCreds('u\uD801'), 'getCreds of another session')
  if (get.kind === 'rejected') return
  t.is(get.value, null)
})

// ---- keys.set / store.setKeys: malformed batches -----------------------------------------

test('keys.set of a malformed batch settles safely and writes no part of it', async (t) => {
  const { state, store, sessionId } = await freshAuth(t)
  await state.keys.set({ 'pre-key': { 1: preKey(1) } })
  for (const [label, data] of [
    ['undefined', undefined],
    ['null', null],
    ['a number', 5],
    ['a string', 'pre-key'],
    ['a symbol', Symbol('data')],
    ['a BigInt', 5n],
    ['a function', () => ({})],
    ['an array', [{ 'pre-key': { 1: null } }]],
    ['a Proxy whose ownKeys trap throws', proxyThrowingOn('ownKeys')],
    ['a Proxy whose get trap throws', proxyThrowingOn('get')],
    ['a Proxy whose getOwnPropertyDescriptor trap throws', proxyThrowingOn('getOwnPropertyDescriptor')],
    ['a revoked Proxy', revokedProxy()],
    ['a type whose getter throws', { 'pre-key': { 1: null }, get session() { throw new Error('hostile getter') } }],
    ['a type mapped to a number', { 'pre-key': { 1: null }, session: 5 }],
    ['a type mapped to a string', { 'pre-key': { 1: null }, session: 'value' }],
    ['a type mapped to an array', { 'pre-key': { 1: null }, session: [{ a: 1 }] }],
    ['a type mapped to a function', { 'pre-key': { 1: null }, session: () => ({}) }],
    ['a type mapped to a symbol', { 'pre-key': { 1: null }, session: Symbol('s') }],
    ['a type mapped to a Proxy whose ownKeys trap throws', { 'pre-key': { 1: null }, session: proxyThrowingOn('ownKeys') }],
    ['an id whose getter throws', { 'pre-key': { 1: null, get 2() { throw new Error('hostile getter') } } }],
  ]) {
    await assertSettlesSafely(t, () => state.keys.set(data), `data ${label}`)
    t.deepEqual(await state.keys.get('pre-key', ['1']), { 1: preKey(1) }, `after data ${label}: the existing key survives`)
  }
  t.deepEqual(await store.sessions(), [sessionId])
})

test('store.setKeys rejects every malformed sessionId, and writes nothing', async (t) => {
  const { store } = await freshStore(t)
  for (const [label, bad] of notStrings()) {
    await assertRejectsInvalid(t, () => store.setKeys(bad, { 'pre-key': { 1: preKey(1) } }), `sessionId ${label}`)
  }
  await assertRejectsInvalid(t, () => store.setKeys(), 'no arguments')
  t.deepEqual(await store.sessions(), [])
})

// ---- keys.set: unstorable values reject the whole batch ----------------------------------

for (const [label] of unstorableValues()) {
  test(`keys.set rejects ${label} and writes none of its batch`, async (t) => {
    const { state } = await freshAuth(t)
    await state.keys.set({ 'pre-key': { existing: preKey(1) }, tctoken: { 'old@lid': { token: Buffer.from('old') } } })
    const value = new Map(unstorableValues()).get(label)
    // Valid writes and deletes of several types around the bad value, in enumeration order.
    const batch = {
      'pre-key': { 1: preKey(2), existing: null },
      session: { 'before.0': { ok: true }, 'bad.0': value, 'after.0': { ok: true } },
      tctoken: { 'new@lid': { token: Buffer.from('new') }, 'old@lid': null },
      'future-type': { x: [1, 2, 3] },
    }
    await assertRejectsInvalid(t, () => state.keys.set(batch), label)
    t.deepEqual(await state.keys.get('pre-key', ['1', 'existing']), { 1: null, existing: preKey(1) })
    t.deepEqual(await state.keys.get('session', ['before.0', 'bad.0', 'after.0']), { 'before.0': null, 'bad.0': null, 'after.0': null })
    t.deepEqual(await state.keys.get('tctoken', ['new@lid', 'old@lid']), { 'new@lid': null, 'old@lid': { token: Buffer.from('old') } })
    t.deepEqual(await state.keys.get('future-type', ['x']), { x: null })
  })
}

test('keys.set of a value nested 10,000 levels deep settles safely, and if it rejects it writes nothing', async (t) => {
  const { state } = await freshAuth(t)
  for (const [label, value] of [
    ['arrays', nested(10_000, (v) => [v])],
    ['objects', nested(10_000, (v) => ({ v }))],
    ['toJSON results', nested(10_000, (v) => ({ toJSON: () => v }))],
  ]) {
    const outcome = await assertSettlesSafely(t, () => state.keys.set({ 'pre-key': { 1: preKey(1) }, session: { deep: value } }), label)
    const stored = await state.keys.get('session', ['deep'])
    if (outcome.kind === 'rejected') {
      t.deepEqual(stored, { deep: null }, `${label}: nothing written`)
      t.deepEqual(await state.keys.get('pre-key', ['1']), { 1: null }, `${label}: nothing written`)
    } else {
      t.deepEqual(stored.deep, jsonRoundTrip(value), `${label}: stored as JSON would`)
      await state.keys.set({ 'pre-key': { 1: null }, session: { deep: null } })
    }
  }
})

// ---- keys.set: odd values are stored as JSON stores them ---------------------------------

test('keys.set stores odd but JSON-representable values exactly as Baileys’ own store returns them', async (t) => {
  const { state } = await freshAuth(t)
  for (const [label, value] of oddStorableValues()) {
    await assertSettlesSafely(t, () => state.keys.set({ 'future-type': { [label]: value } }), label)
    const { [label]: stored } = await state.keys.get('future-type', [label])
    t.deepEqual(stored, jsonRoundTrip(value), label)
  }
})

// Regression: boxed primitives are walked as objects: new String('ab') is stored as
// { 0: 'a', 1: 'b' }, new Number(5) and new Boolean(false) as {}; JSON.stringify (and so
// Baileys) stores 'ab', 5 and false. Repro:
//   await keys.set({ x: { id: new Number(5) } }); (await keys.get('x', ['id'])).id  // {} instead of 5
test('keys.set stores boxed primitives as their primitive value, as JSON does', async (t) => {
  const { state } = await freshAuth(t)
  const value = { s: new String('ab'), n: new Number(5), b: new Boolean(false) }
  await state.keys.set({ 'future-type': { boxed: value } })
  t.deepEqual((await state.keys.get('future-type', ['boxed'])).boxed, { s: 'ab', n: 5, b: false })
})

// Regression: a property whose toJSON returns undefined is stored as null; JSON.stringify drops it.
// (The undefined check runs before toJSON is called.) Repro:
//   await keys.set({ x: { id: { a: { toJSON: () => undefined }, b: 1 } } })  // reads back { a: null, b: 1 }
test('keys.set drops a property whose toJSON returns undefined, as JSON does', async (t) => {
  const { state } = await freshAuth(t)
  await state.keys.set({ 'future-type': { id: { a: { toJSON: () => undefined }, b: 1 } } })
  t.deepEqual((await state.keys.get('future-type', ['id'])).id, { b: 1 })
})

// Regression: a Proxy of an array is not an array to napi_is_array, so it is stored as an object
// with numeric keys, which the Buffer revival rule then turns into a Buffer. Repro:
//   await keys.set({ x: { id: new Proxy([1, 2], {}) } })  // reads back <Buffer 01 02>, not [1, 2]
test('keys.set stores a Proxy of an array as an array, as JSON does', async (t) => {
  const { state } = await freshAuth(t)
  await state.keys.set({ 'future-type': { id: { list: new Proxy([1, 2], {}) } } })
  t.deepEqual((await state.keys.get('future-type', ['id'])).id, { list: [1, 2] })
})

test('keys.set keeps an own "__proto__" key as a key, as JSON.parse does', async (t) => {
  const { state } = await freshAuth(t)
  const value = JSON.parse('{"__proto__":{"polluted":1},"b":2}')
  await state.keys.set({ 'future-type': { id: value } })
  const stored = (await state.keys.get('future-type', ['id'])).id
  t.deepEqual(Object.keys(stored), ['__proto__', 'b'])
  t.is(Object.getPrototypeOf(stored), Object.prototype)
  t.is(stored.polluted, undefined)
})

// Regression: strings are read with napi_get_value_string_utf8, which replaces a lone surrogate with
// U+FFFD; JSON.stringify escapes it and JSON.parse restores it. Repro:
//   await keys.set({ x: { id: 'a\uD800b' } }); (await keys.get('x', ['id'])).id  // 'a\uFFFDb'
test('keys.set keeps lone surrogates in string values (or rejects them)', async (t) => {
  const { state } = await freshAuth(t)
  const value = { text: 'a\uD800b', ['k\uDC00']: '\uDFFF' }
  const outcome = await assertSettlesSafely(t, () => state.keys.set({ 'future-type': { id: value } }), 'set')
  if (outcome.kind === 'rejected') return
  t.deepEqual((await state.keys.get('future-type', ['id'])).id, value)
})

// Regression: ArrayBuffer is rejected as a value that would silently lose data, but a
// SharedArrayBuffer (which JSON.stringify turns into {} just the same) is stored as {}. Repro:
//   await keys.set({ x: { id: new SharedArrayBuffer(8) } })  // resolves; reads back {}
test('keys.set rejects a SharedArrayBuffer like an ArrayBuffer, and writes nothing', async (t) => {
  const { state } = await freshAuth(t)
  await assertRejectsInvalid(t, () => state.keys.set({ 'pre-key': { 1: preKey(1) }, session: { id: new SharedArrayBuffer(8) } }), 'set')
  t.deepEqual(await state.keys.get('pre-key', ['1']), { 1: null })
})

// ---- values are captured when set() is called --------------------------------------------

test('keys.set stores a value as it was when set() was called, not when the write ran', async (t) => {
  const { state } = await freshAuth(t)
  const value = { n: 1, list: [1], key: Buffer.from([1, 2, 3]) }
  const pending = state.keys.set({ session: { 'a.0': value } })
  value.n = 2
  value.list.push(2)
  value.key.fill(0)
  await pending
  t.deepEqual(await state.keys.get('session', ['a.0']), { 'a.0': { n: 1, list: [1], key: Buffer.from([1, 2, 3]) } })
})

test('keys.set runs getters and toJSON during the call itself', async (t) => {
  const { state } = await freshAuth(t)
  let reads = 0
  let version = 1
  const value = {
    get counted() {
      reads++
      return version
    },
    stamp: { toJSON: () => `v${version}` },
  }
  const pending = state.keys.set({ session: { 'b.0': value } })
  t.is(reads, 1, 'the getter ran exactly once, before set() returned')
  version = 2
  await pending
  t.deepEqual(await state.keys.get('session', ['b.0']), { 'b.0': { counted: 1, stamp: 'v1' } })
})

test('saveCreds saves the creds as they were when it was called', async (t) => {
  const { state, saveCreds, store, sessionId } = await freshAuth(t)
  state.creds.me = { id: '1111111111:1@s.whatsapp.net', name: 'before' }
  const identityKey = Buffer.from(state.creds.signedIdentityKey.public)
  const pending = saveCreds()
  state.creds.me.name = 'after'
  state.creds.signedIdentityKey.public.fill(0)
  state.creds.nextPreKeyId = 500
  await pending
  const saved = await store.getCreds(sessionId)
  t.is(saved.me.name, 'before')
  t.deepEqual(saved.signedIdentityKey.public, identityKey)
  t.is(saved.nextPreKeyId, 1)
})

// ---- keys.clear / store.clearKeys ---------------------------------------------------------

test('keys.clear ignores any arguments and clears only this session’s keys', async (t) => {
  const { state, store } = await freshAuth(t)
  const other = await useRustAuthState('other', { store, baileys })
  await other.state.keys.set({ 'pre-key': { 1: preKey(7) } })
  for (const [label, arg] of notStrings()) {
    await state.keys.set({ 'pre-key': { 1: preKey(1) } })
    const outcome = await outcomeOf(() => state.keys.clear(arg, arg))
    t.is(outcome.kind, 'resolved', `clear(${label}): ${describe(outcome)}`)
    t.deepEqual(await state.keys.get('pre-key', ['1']), { 1: null }, `clear(${label})`)
  }
  t.deepEqual(await other.state.keys.get('pre-key', ['1']), { 1: preKey(7) })
})

test('store.clearKeys rejects every malformed sessionId, and clears nothing', async (t) => {
  const { store } = await freshStore(t)
  await store.setKeys('s', { 'pre-key': { 1: preKey(1) } })
  for (const [label, bad] of notStrings()) {
    await assertRejectsInvalid(t, () => store.clearKeys(bad), `sessionId ${label}`)
  }
  t.deepEqual(await store.getKeys('s', 'pre-key', ['1']), { 1: preKey(1) })
})

// ---- saveCreds / store.setCreds / store.getCreds ------------------------------------------

test('saveCreds rejects creds holding an unstorable value, and keeps the saved creds', async (t) => {
  const { state, saveCreds, store, sessionId } = await freshAuth(t)
  state.creds.me = { id: '1111111111:1@s.whatsapp.net', name: 'saved' }
  await saveCreds()
  const saved = await store.getCreds(sessionId)
  for (const [label, value] of [...unstorableValues(), ['a value nested 10,000 levels deep', nested(10_000, (v) => [v])]]) {
    state.creds.me = { id: '2222222222:1@s.whatsapp.net', name: 'changed' }
    state.creds.nextPreKeyId = 999
    state.creds.bad = { deep: { value } }
    const outcome = await assertSettlesSafely(t, () => saveCreds(), label)
    if (outcome.kind === 'resolved') {
      // only acceptable for the deep value, which JSON can store
      t.is(label, 'a value nested 10,000 levels deep', `${label}: must not be saved`)
      continue
    }
    t.deepEqual(await store.getCreds(sessionId), saved, `${label}: the saved creds are unchanged`)
  }
  const reopened = await useRustAuthState(sessionId, { store, baileys })
  t.deepEqual(reopened.state.creds, saved)
})

test('saveCreds rejects creds replaced by something that is not an object, and keeps the saved creds', async (t) => {
  const auth = await freshAuth(t)
  await auth.saveCreds()
  const saved = await auth.store.getCreds(auth.sessionId)
  for (const [label, creds] of [
    ['undefined', undefined],
    ['null', null],
    ['a number', 5],
    ['a string', 'creds'],
    ['a symbol', Symbol('creds')],
    ['a BigInt', 1n],
    ['a function', () => ({})],
    ['an array', [saved]],
    ['a Proxy whose get trap throws', proxyThrowingOn('get')],
    ['a Proxy whose ownKeys trap throws', proxyThrowingOn('ownKeys')],
  ]) {
    auth.state.creds = creds
    await assertRejectsInvalid(t, () => auth.saveCreds(), label)
    t.deepEqual(await auth.store.getCreds(auth.sessionId), saved, `${label}: the saved creds are unchanged`)
  }
})

// Regression: setCreds only checks that creds is a non-array object before encoding; an object
// whose JSON form is not an object (a Date, toJSON returning null/a string/an array) is
// written. A toJSON returning null silently erases the saved creds (the next
// useRustAuthState starts from initAuthCreds: a new identity, i.e. logged out); a Date or a
// string makes every later getCreds/useRustAuthState of the session reject with
// ERR_STORE_CORRUPT. Repro:
//   await store.setCreds('s', goodCreds); await store.setCreds('s', new Date())  // resolves
//   await store.getCreds('s')  // rejects ERR_STORE_CORRUPT "saved creds ... are not an object"
test('saveCreds rejects creds whose JSON form is not an object, and keeps the saved creds', async (t) => {
  const auth = await freshAuth(t)
  await auth.saveCreds()
  const saved = await auth.store.getCreds(auth.sessionId)
  for (const [label, creds] of [
    ['a Date', new Date(0)],
    ['an object whose toJSON returns null', { toJSON: () => null }],
    ['an object whose toJSON returns a string', { toJSON: () => 'creds' }],
    ['an object whose toJSON returns an array', { toJSON: () => [1] }],
  ]) {
    auth.state.creds = creds
    await assertRejectsInvalid(t, () => auth.saveCreds(), label)
    t.deepEqual(await auth.store.getCreds(auth.sessionId).catch((err) => err.code), saved, `${label}: the saved creds are unchanged`)
  }
})

test('store.setCreds rejects every malformed sessionId, and writes nothing', async (t) => {
  const { store } = await freshStore(t)
  for (const [label, bad] of notStrings()) {
    await assertRejectsInvalid(t, () => store.setCreds(bad, { registered: true }), `sessionId ${label}`)
  }
  await assertRejectsInvalid(t, () => store.setCreds(), 'no arguments')
  t.deepEqual(await store.sessions(), [])
})

test('store.setCreds rejects creds that are not a storable object, and keeps the saved creds', async (t) => {
  const { store } = await freshStore(t)
  await store.setCreds('s', { registered: true, key: Buffer.from([1]) })
  for (const [label, creds] of [
    ['undefined', undefined],
    ['null', null],
    ['a number', 1],
    ['a string', '{}'],
    ['an array', [{}]],
    ['a function', () => ({})],
    ['a symbol', Symbol('creds')],
    ['a BigInt', 1n],
    ...unstorableValues().map(([label, value]) => [`an object holding ${label}`, { registered: false, value }]),
  ]) {
    await assertRejectsInvalid(t, () => store.setCreds('s', creds), label)
  }
  t.deepEqual(await store.getCreds('s'), { registered: true, key: Buffer.from([1]) })
})

test('store.getCreds rejects every malformed sessionId', async (t) => {
  const { store } = await freshStore(t)
  for (const [label, bad] of notStrings()) {
    await assertRejectsInvalid(t, () => store.getCreds(bad), `sessionId ${label}`)
  }
  await assertRejectsInvalid(t, () => store.getCreds(), 'no arguments')
})

// ---- store.deleteSession ------------------------------------------------------------------

test('store.deleteSession rejects every malformed sessionId, and deletes nothing', async (t) => {
  const { store } = await freshStore(t)
  await store.setCreds('s', { registered: true })
  await store.setKeys('s', { 'pre-key': { 1: preKey(1) } })
  for (const [label, bad] of notStrings()) {
    await assertRejectsInvalid(t, () => store.deleteSession(bad), `sessionId ${label}`)
  }
  t.deepEqual(await store.sessions(), ['s'])
  t.deepEqual(await store.getCreds('s'), { registered: true })
  t.deepEqual(await store.getKeys('s', 'pre-key', ['1']), { 1: preKey(1) })
})

// Regression: a key batch that writes nothing (only deletes of absent keys, or no entries) still
// creates the session (SQLite: a sessions row; memory: an entry), so sessions(), documented
// as "every session that has creds or keys", lists a session that has neither. Repro:
//   const store = await openStore('memory:')
//   await store.setKeys('ghost', { 'pre-key': { 1: null } }); await store.sessions()  // ['ghost']
test('a keys.set that writes nothing leaves no session behind in sessions()', async (t) => {
  const { store } = await freshStore(t)
  await store.setKeys('ghost', { 'pre-key': { 1: null } })
  await store.setKeys('ghost', { 'pre-key': null, session: {} })
  t.deepEqual(await store.sessions(), [])
})

// ---- openStore ------------------------------------------------------------------------------

test('openStore rejects every URL that is not a non-empty string', async (t) => {
  for (const [label, url] of notStrings().filter(([label]) => label !== 'undefined')) {
    await assertRejectsInvalid(t, () => openStore(url), `url ${label}`)
  }
})

test('openStore rejects URLs that name no store', async (t) => {
  for (const url of ['', 'sqlite:', 'sqlite://', 'postgres://localhost/auth?tablePrefix=x', 'mysql://localhost/auth?schema=x', 'ftp://example.com/auth.db', 'http://x']) {
    await assertRejectsInvalid(t, () => openStore(url), JSON.stringify(url))
  }
})

test('openStore rejects options that are not an object', async (t) => {
  for (const [label, options] of [
    ['null', null],
    ['a number', 5],
    ['a string', 'memory:'],
    ['a symbol', Symbol('options')],
    ['true', true],
  ]) {
    await assertRejectsInvalid(t, () => openStore('memory:', options), `options ${label}`)
  }
})

test('openStore opens file paths with odd but valid characters', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bra-malformed-url-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  for (const name of ['with space.db', 'ünïcødé 🔑.db', 'colon:in:name.db', 'hash#and?query.db', 'lone\uD800surrogate.db']) {
    const outcome = await assertSettlesSafely(t, () => openStore(`sqlite:${join(dir, name)}`), name)
    if (outcome.kind === 'resolved') {
      const store = outcome.value
      await store.setKeys('s', { 'pre-key': { 1: preKey(1) } })
      t.deepEqual(await store.getKeys('s', 'pre-key', ['1']), { 1: preKey(1) }, name)
      await store.close()
    }
  }
})

// Regression (was a crash): the store's worker thread is named after the URL
// (std::thread::Builder::name(format!("baileys-auth:{url}"))), and Rust panics on a thread
// name with a NUL byte; the panic happens inside the N-API call, so the process aborts
// (SIGABRT, "thread name may not contain interior null bytes"). Any URL with a NUL does it,
// also through useRustAuthState's store option. Repro:
//   node -e "require('baileys-rust-auth').openStore('sqlite:/tmp/a\0b.db').catch(() => {})"  // Aborted
test('a URL containing NUL rejects with ERR_INVALID_ARG instead of killing the process', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bra-malformed-nul-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const calls = {
    'openStore(sqlite file URL with NUL)': `api.openStore(${JSON.stringify(`sqlite:${dir}/a\0b.db`)})`,
    'openStore(memory: with NUL)': `api.openStore('memory:\\0')`,
    'useRustAuthState(store URL with NUL)': `api.useRustAuthState('s', { store: ${JSON.stringify(`${dir}/c\0.db`)} })`,
  }
  for (const [label, call] of Object.entries(calls)) {
    const run = await runIsolated(
      `const outcome = await ${call}.then(() => 'resolved', (err) => api.isAuthStoreError(err) ? err.code : 'uncoded: ' + err)\n` +
        `console.log(JSON.stringify(outcome))`,
    )
    t.is(run.exitCode, 0, `${label}: the process died (${run.signal ?? run.exitCode}): ${run.stderr?.split('\n')[1] ?? ''}`)
    t.is(run.stdout?.trim(), JSON.stringify(INVALID), label)
  }
})

// Options and store arguments of the transfer functions and useRustAuthState that are Proxies
// whose traps throw (or revoked Proxies) once escaped the gate as a bare TypeError: the options
// were destructured, and `instanceof AuthStore` asked getPrototypeOf, before any check ran.
test('Proxies whose traps throw, given as options, stores or types, are refused with ERR_INVALID_ARG', async (t) => {
  const { importFolder, exportFolder, migrate } = await import('../index.mjs')
  const revoked = () => {
    const r = Proxy.revocable({}, {})
    r.revoke()
    return r.proxy
  }
  const thrower = () => new Proxy([], { get() { throw new Error('trap get') }, ownKeys() { throw new Error('trap ownKeys') }, getPrototypeOf() { throw new Error('trap getPrototypeOf') } })
  const dir = await mkdtemp(join(tmpdir(), 'bra-hostile-'))
  const fake = { initAuthCreds: () => ({}) }
  for (const hostile of [revoked, thrower]) {
    const calls = {
      'useRustAuthState options.store': () => useRustAuthState('s', { store: hostile(), baileys: fake }),
      'importFolder options': () => importFolder(dir, hostile()),
      'importFolder options.types': () => importFolder(dir, { session: 's', store: 'memory:', types: hostile() }),
      'importFolder options.store': () => importFolder(dir, { session: 's', store: hostile() }),
      'exportFolder options': () => exportFolder(join(dir, 'out'), hostile()),
      'migrate options': () => migrate(hostile()),
      'migrate options.from': () => migrate({ from: hostile(), to: 'memory:' }),
      'migrate options.to': () => migrate({ from: 'memory:', to: hostile() }),
    }
    for (const [what, call] of Object.entries(calls)) {
      const err = await t.throwsAsync(call(), undefined, what)
      t.is(err?.code, INVALID, `${what}: ${err}`)
    }
  }
  await rm(dir, { recursive: true, force: true })
})

// Refused calls that opened (and so created) a SQLite file first: migrate opened `from` before
// looking at `to`, useRustAuthState opened its store before looking at options.baileys.
test('a refused migrate or useRustAuthState creates no database file', async (t) => {
  const { migrate } = await import('../index.mjs')
  const { readdirSync } = await import('node:fs')
  const dir = await mkdtemp(join(tmpdir(), 'bra-nothing-'))
  const file = join(dir, 'new.db')
  for (const to of [42, 'bogus://x', '']) {
    await t.throwsAsync(migrate({ from: `sqlite:${file}`, to }), { code: INVALID })
  }
  await t.throwsAsync(useRustAuthState('s', { store: `sqlite:${file}`, baileys: {} }), { code: INVALID })
  t.deepEqual(readdirSync(dir), [])
  await rm(dir, { recursive: true, force: true })
})

test('a migrate from a SQLite file to the same file spelled another way creates nothing', async (t) => {
  const { migrate } = await import('../index.mjs')
  const { readdirSync } = await import('node:fs')
  const dir = await mkdtemp(join(tmpdir(), 'bra-same-'))
  const file = join(dir, 'new.db')
  for (const [from, to] of [[`sqlite:${file}`, file], [file, `sqlite://${file}`], [`sqlite:${file}`, join(dir, '.', 'new.db')]]) {
    await t.throwsAsync(migrate({ from, to }), { code: INVALID, message: /same store/ })
  }
  t.deepEqual(readdirSync(dir), [])
  await rm(dir, { recursive: true, force: true })
})

// The binding's parseStoreUrl receives UTF-8, where a lone surrogate becomes U+FFFD: the shared
// store of the file `a\uFFFD.db` was handed to useRustAuthState('s', { store: 'a\uD800.db' }).
test('a store URL with a lone surrogate is refused, never taken for the file whose name has U+FFFD', async (t) => {
  const { migrate } = await import('../index.mjs')
  const dir = await mkdtemp(join(tmpdir(), 'bra-lone-'))
  const fake = { initAuthCreds: () => ({ me: { id: 'x' } }) }
  const open = await useRustAuthState('s', { store: join(dir, 'a\uFFFD.db'), baileys: fake })
  const lone = join(dir, 'a\uD800.db')
  await t.throwsAsync(useRustAuthState('s', { store: lone, baileys: fake }), { code: INVALID, message: /lone UTF-16 surrogate/ })
  await t.throwsAsync(openStore(lone), { code: INVALID })
  await t.throwsAsync(migrate({ from: lone, to: 'memory:' }), { code: INVALID, message: /lone UTF-16 surrogate/ })
  await t.throwsAsync(migrate({ from: 'memory:', to: `sqlite:${lone}` }), { code: INVALID, message: /lone UTF-16 surrogate/ })
  await open.close()
  await rm(dir, { recursive: true, force: true })
})

// options.types was checked with every(), which skips holes (so `[, 'x']` passed) and visits
// every index of a sparse array: one of length 2^32-1 blocked the event loop for minutes.
test('importFolder refuses options.types with holes, a huge sparse array included, at once', async (t) => {
  const { importFolder } = await import('../index.mjs')
  const dir = await mkdtemp(join(tmpdir(), 'bra-types-'))
  const huge = []
  huge.length = 2 ** 32 - 1
  // eslint-disable-next-line no-sparse-arrays
  for (const types of [huge, [, 'pre-key'], ['pre-key', , 'session']]) {
    await t.throwsAsync(importFolder(dir, { session: 's', store: 'memory:', types }), { code: INVALID, message: /options\.types/ })
  }
  await rm(dir, { recursive: true, force: true })
})

// Node hands the file system UTF-8 with U+FFFD for a lone surrogate: exportFolder('out\uD800')
// wrote the folder 'out\uFFFD', one the caller did not name (backup refuses such a path).
test('importFolder and exportFolder refuse a folder name with a lone surrogate, creating nothing', async (t) => {
  const { importFolder, exportFolder } = await import('../index.mjs')
  const { readdirSync } = await import('node:fs')
  const dir = await mkdtemp(join(tmpdir(), 'bra-folder-'))
  const store = await openStore('memory:')
  await store.setCreds('s', { me: { id: 'x' } })
  await t.throwsAsync(exportFolder(join(dir, 'out\uD800'), { session: 's', store }), { code: INVALID, message: /lone UTF-16 surrogate/ })
  await t.throwsAsync(importFolder(join(dir, 'in\uDC00'), { session: 's', store }), { code: INVALID, message: /lone UTF-16 surrogate/ })
  t.deepEqual(readdirSync(dir), [])
  await store.close()
  await rm(dir, { recursive: true, force: true })
})
