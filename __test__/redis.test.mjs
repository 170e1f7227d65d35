// The Redis backend: its documented layout, atomicity, isolation between sessions, TTL,
// failure and recovery, against private redis-server processes (never the shared 6379).
// Tests whose comment names a bug once failed against this package; they keep it fixed.
import { spawnSync } from 'node:child_process'
import { connect as connectTcp, createServer } from 'node:net'
import { createRequire } from 'node:module'
import { join } from 'node:path'

import test from 'ava'

import { ErrorCodes, isAuthStoreError, migrate, openStore, useRustAuthState } from '../index.mjs'
import { freePort, redisCommand, requireRedis, startRedis, startRedisCluster, stopAll } from './helpers/redis-server.mjs'

const baileys = await import('baileys')
const require = createRequire(import.meta.url)

test.after.always(stopAll)

// Every unhandled rejection of this process; failure tests assert there is none.
const unhandled = []
process.on('unhandledRejection', (reason) => unhandled.push(reason))

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const preKey = (n) => ({ public: Buffer.alloc(32, n), private: Buffer.alloc(32, n + 1) })

/** Rejects with the given code (and is an AuthStoreError). */
async function rejectsWith(t, promise, code, what) {
  const err = await t.throwsAsync(promise, undefined, what)
  t.is(err?.code, code, `${what ?? ''} ${err?.message}`)
  t.true(isAuthStoreError(err), what)
  return err
}

/** Retries `fn` until it resolves, for at most `ms`; resolves { value, tries }. */
async function eventually(fn, ms = 5000) {
  const deadline = Date.now() + ms
  for (let tries = 1; ; tries++) {
    try {
      return { value: await fn(), tries }
    } catch (err) {
      if (Date.now() > deadline) throw err
      await sleep(50)
    }
  }
}


/** Waits until `condition()` holds, polling; fails after `ms`. */
async function until(condition, ms) {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not reached within ${ms} ms`)
    await sleep(10)
  }
}

// --- Redis inspection (raw RESP, so that reading never refreshes a TTL) -------------------

/** Redis Cluster's CRC16 (XModem). */
function crc16(buf) {
  let crc = 0
  for (const byte of buf) {
    crc ^= byte << 8
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

/** The cluster slot of a key, with Redis' hash tag rule (first `{`, first `}` after it, non-empty). */
function keySlot(key) {
  let buf = Buffer.from(key)
  const open = buf.indexOf(0x7b)
  if (open !== -1) {
    const close = buf.indexOf(0x7d, open + 1)
    if (close > open + 1) buf = buf.subarray(open + 1, close)
  }
  return crc16(buf) % 16384
}

const keysOf = async (target, pattern = '*') => (await redisCommand(target, 'KEYS', pattern)).map(String).sort()

/** HGETALL as { field: Buffer }. */
async function hgetall(target, key) {
  const flat = await redisCommand(target, 'HGETALL', key)
  const out = {}
  for (let i = 0; i < flat.length; i += 2) out[String(flat[i])] = flat[i + 1]
  return out
}

/** Every key of a server with its serialized value (DUMP): a snapshot to diff. */
async function snapshot(target) {
  const out = new Map()
  for (const key of await keysOf(target)) out.set(key, await redisCommand(target, 'DUMP', key))
  return out
}

/** `before` without `removed`, for comparing with a later snapshot. */
function without(before, removed) {
  const out = new Map(before)
  for (const key of removed) out.delete(key)
  return out
}

// One cluster for every cluster test (each uses its own keyPrefix): starting one takes ~3 s.
let clusterStarted
const sharedCluster = () => (clusterStarted ??= startRedisCluster())

/** { port: [ [start, end], ... ] } of the cluster's masters, from CLUSTER SLOTS. */
async function slotOwners(port) {
  const owners = new Map()
  for (const [start, end, master] of await redisCommand({ port }, 'CLUSTER', 'SLOTS')) {
    const owner = master[1]
    if (!owners.has(owner)) owners.set(owner, [])
    owners.get(owner).push([start, end])
  }
  return owners
}

// --- 1. Layout --------------------------------------------------------------------------

test('a session is stored as creds, a set of types and one hash per type, under one hash tag', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const store = await openStore(r.url)
  const { state, saveCreds } = await useRustAuthState('L', { store, baileys })
  await saveCreds()
  await state.keys.set({
    'pre-key': { 1: preKey(1), 2: preKey(2) },
    session: { '15550000001.0': { v: 1 } },
    'sender-key-memory': { '1203@g.us': { '9000_1:0@lid': true } },
  })

  const expected = [
    'baileys:{L}:creds',
    'baileys:{L}:keys:pre-key',
    'baileys:{L}:keys:sender-key-memory',
    'baileys:{L}:keys:session',
    // The owner's lease (docs/ownership.md): useRustAuthState owns the session.
    'baileys:{L}:lease',
    'baileys:{L}:types',
    'baileys:{L}:updated',
  ]
  t.deepEqual(await keysOf(r), expected)
  t.is(await redisCommand(r, 'TYPE', 'baileys:{L}:creds'), 'string')
  t.is(await redisCommand(r, 'TYPE', 'baileys:{L}:lease'), 'hash')
  // The last write, in ms since the epoch (AuthStore.stats reads it).
  t.true(Math.abs(Number(await redisCommand(r, 'GET', 'baileys:{L}:updated')) - Date.now()) < 60_000)
  t.is(await redisCommand(r, 'TYPE', 'baileys:{L}:types'), 'set')
  for (const key of expected.filter((k) => k.includes(':keys:'))) t.is(await redisCommand(r, 'TYPE', key), 'hash', key)
  t.deepEqual((await redisCommand(r, 'SMEMBERS', 'baileys:{L}:types')).map(String).sort(), ['pre-key', 'sender-key-memory', 'session'])
  t.deepEqual(Object.keys(await hgetall(r, 'baileys:{L}:keys:pre-key')).sort(), ['1', '2'])
  t.deepEqual(Object.keys(await hgetall(r, 'baileys:{L}:keys:session')), ['15550000001.0'])

  // Values are codec blobs: format version 1 first.
  t.is((await redisCommand(r, 'GET', 'baileys:{L}:creds'))[0], 1)
  for (const key of expected.filter((k) => k.includes(':keys:'))) {
    for (const [id, blob] of Object.entries(await hgetall(r, key))) t.is(blob[0], 1, `${key} ${id}`)
  }

  // One hash tag, so one cluster slot, for all of the session's keys.
  for (const key of expected) t.is(/\{([^}]*)\}/.exec(key)?.[1], 'L', key)
  t.deepEqual(new Set(expected.map(keySlot)), new Set([keySlot('{L}')]))
  await store.close()
})

test('keyPrefix changes the prefix of every key, and stores with different prefixes do not see each other', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const tenant = await openStore(r.url, { keyPrefix: 'tenant-1:auth' })
  const other = await openStore(r.url)
  await tenant.setCreds('s', { who: 'tenant' })
  await tenant.setKeys('s', { 'pre-key': { 1: preKey(1) } })
  t.deepEqual(await keysOf(r), ['tenant-1:auth:{s}:creds', 'tenant-1:auth:{s}:keys:pre-key', 'tenant-1:auth:{s}:types', 'tenant-1:auth:{s}:updated'])
  t.is(await other.getCreds('s'), null)
  t.deepEqual(await other.getKeys('s', 'pre-key', ['1']), { 1: null })
  t.deepEqual(await other.sessions(), [])
  t.deepEqual(await tenant.sessions(), ['s'])
  await Promise.all([tenant.close(), other.close()])
})

test('a type whose last key is deleted leaves the set of types, and its hash is gone', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const store = await openStore(r.url)
  await store.setKeys('s', { 'pre-key': { 1: preKey(1), 2: preKey(2) }, session: { x: { v: 1 } } })
  await store.setKeys('s', { 'pre-key': { 1: null } })
  t.deepEqual((await redisCommand(r, 'SMEMBERS', 'baileys:{s}:types')).map(String).sort(), ['pre-key', 'session'], 'not the last key')
  await store.setKeys('s', { 'pre-key': { 2: undefined } })
  t.deepEqual((await redisCommand(r, 'SMEMBERS', 'baileys:{s}:types')).map(String), ['session'])
  t.is(await redisCommand(r, 'EXISTS', 'baileys:{s}:keys:pre-key'), 0)
  await store.setKeys('s', { session: { x: null, 'never-there': null } })
  t.deepEqual(await keysOf(r), [], 'a session without keys or creds leaves nothing behind')
  t.deepEqual(await store.sessions(), [])
  await store.close()
})

test('a stored value that is not a codec blob reads as ERR_STORE_CORRUPT, a key of another type as ERR_STORE_IO', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const store = await openStore(r.url)
  await redisCommand(r, 'SET', 'baileys:{c}:creds', 'garbage')
  await redisCommand(r, 'HSET', 'baileys:{c}:keys:session', 'x', 'garbage')
  await redisCommand(r, 'HSET', 'baileys:{h}:creds', 'a', 'b')
  await rejectsWith(t, store.getCreds('c'), ErrorCodes.STORE_CORRUPT)
  await rejectsWith(t, store.getKeys('c', 'session', ['x']), ErrorCodes.STORE_CORRUPT)
  await rejectsWith(t, store.getCreds('h'), ErrorCodes.STORE_IO)
  await store.close()
})

test('large batches and reads of many ids work', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const store = await openStore(r.url)
  const batch = { 'pre-key': {}, session: {} }
  for (let i = 0; i < 5000; i++) {
    batch['pre-key'][i] = preKey(i % 250)
    batch.session[`${i}.0`] = { i }
  }
  await store.setKeys('big', batch)
  t.is(await redisCommand(r, 'HLEN', 'baileys:{big}:keys:pre-key'), 5000)
  const ids = Array.from({ length: 10_000 }, (_, i) => String(i))
  const got = await store.getKeys('big', 'pre-key', ids)
  t.is(Object.keys(got).length, 10_000)
  t.deepEqual(got['4999'], preKey(4999 % 250))
  t.is(got['5000'], null)
  await store.close()
})

// --- 2. clear() and deleteSession remove exactly one session ------------------------------

test('clear() and deleteSession remove everything of their session and nothing else', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const store = await openStore(r.url)
  const otherPrefix = await openStore(r.url, { keyPrefix: 'other' })
  // Sessions whose ids contain or extend 'a', the same id under another prefix, foreign keys.
  for (const id of ['a', 'ab', 'a}b', 'a:b', 'b']) {
    await store.setCreds(id, { id })
    await store.setKeys(id, { 'pre-key': { 1: preKey(1) }, session: { [`${id}.0`]: { id } } })
  }
  await otherPrefix.setCreds('a', { id: 'other a' })
  await otherPrefix.setKeys('a', { session: { 'a.0': { id: 'other a' } } })
  await redisCommand(r, 'SET', 'other:thing', 'foreign')
  await redisCommand(r, 'HSET', 'baileys:a:keys:session', 'x', 'no braces')
  await redisCommand(r, 'SET', 'baileys:{a}x:creds', 'lookalike')
  await redisCommand(r, 'SADD', 'baileys:{a', 'half a tag')

  // Not owned (lease: false), so that the store itself may delete the session below.
  const { state } = await useRustAuthState('a', { store, baileys, lease: false })
  let before = await snapshot(r)
  await state.keys.clear()
  // clear() is a write: a's last-write time changes too.
  t.deepEqual(
    without(await snapshot(r), ['baileys:{a}:updated']),
    without(before, ['baileys:{a}:types', 'baileys:{a}:keys:pre-key', 'baileys:{a}:keys:session', 'baileys:{a}:updated']),
    'clear() removes only the keys of a',
  )
  t.deepEqual(await store.getCreds('a'), { id: 'a' }, 'clear() keeps the creds')
  t.deepEqual(await state.keys.get('session', ['a.0']), { 'a.0': null })

  before = await snapshot(r)
  await store.deleteSession('a')
  t.deepEqual(await snapshot(r), without(before, ['baileys:{a}:creds', 'baileys:{a}:updated']), 'deleteSession removes only a')

  // A session with keys and creds, and ids that are prefixes of each other.
  before = await snapshot(r)
  await store.deleteSession('a}b')
  t.deepEqual(
    await snapshot(r),
    // '}' in a session id is written %7D, so the hash tag is the whole id.
    without(before, ['baileys:{a%7Db}:creds', 'baileys:{a%7Db}:types', 'baileys:{a%7Db}:keys:pre-key', 'baileys:{a%7Db}:keys:session', 'baileys:{a%7Db}:updated']),
  )
  before = await snapshot(r)
  await store.deleteSession('ab')
  t.deepEqual(await snapshot(r), without(before, ['baileys:{ab}:creds', 'baileys:{ab}:types', 'baileys:{ab}:keys:pre-key', 'baileys:{ab}:keys:session', 'baileys:{ab}:updated']))

  t.deepEqual(await store.getKeys('a:b', 'session', ['a:b.0']), { 'a:b.0': { id: 'a:b' } })
  t.deepEqual(await store.getCreds('b'), { id: 'b' })
  t.deepEqual(await otherPrefix.getCreds('a'), { id: 'other a' })
  t.deepEqual(await otherPrefix.getKeys('a', 'session', ['a.0']), { 'a.0': { id: 'other a' } })
  t.deepEqual(await store.sessions(), ['a:b', 'b'])
  await Promise.all([store.close(), otherPrefix.close()])
})

// --- 3. sessions() ----------------------------------------------------------------------

test('sessions() lists exactly the sessions with creds or keys, sorted, across SCAN pages', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis({ unixSocket: true })
  const store = await openStore(r.url)
  const otherPrefix = await openStore(r.url, { keyPrefix: 'p2' })
  t.deepEqual(await store.sessions(), [])

  await store.setCreds('creds-only', { a: 1 })
  await store.setKeys('keys-only', { session: { x: 1 } })
  await store.setCreds('both', { a: 1 })
  await store.setKeys('both', { session: { x: 1 } })
  await store.setKeys('emptied', { session: { x: 1 } })
  await store.setKeys('emptied', { session: { x: null } })
  await store.setCreds('cleared', { a: 1 })
  await store.setKeys('cleared', { session: { x: 1 } })
  await store.clearKeys('cleared')
  await store.setKeys('cleared-keys-only', { session: { x: 1 } })
  await store.clearKeys('cleared-keys-only')
  await store.setCreds('deleted', { a: 1 })
  await store.setKeys('deleted', { session: { x: 1 } })
  await store.deleteSession('deleted')
  const odd = ['a}b', 'x:y', '{br}', '}x', 'with space', 'ü', '*', '?[x]', 'new\nline', 'x}:types']
  for (const id of odd) await store.setKeys(id, { 'pre-key': { 1: preKey(1) } })
  await otherPrefix.setCreds('other-prefix', { a: 1 })
  await redisCommand(r, 'SET', 'foreign', 'x')
  await redisCommand(r, 'SET', 'baileys:{not-a-session}:unknown', 'x')

  const expected = ['creds-only', 'keys-only', 'both', 'cleared', ...odd].sort()
  t.deepEqual(await store.sessions(), expected)
  t.deepEqual(await otherPrefix.sessions(), ['other-prefix'])

  // More sessions than one SCAN page (COUNT 1000) holds.
  const bulk = Array.from({ length: 1500 }, (_, i) => `bulk-${String(i).padStart(4, '0')}`)
  await Promise.all(bulk.map((id) => store.setCreds(id, { id })))
  t.deepEqual(await store.sessions(), [...expected, ...bulk].sort())
  await Promise.all([store.close(), otherPrefix.close()])
})

// Bug: sessions() takes any key ending in `}:creds` or `}:types` for a session, so a key type
// named like that makes up a session; worse, session `x}:keys:y`'s creds key IS session `x`'s
// hash of type `y}:creds` (`baileys:{x}:keys:y}:creds`), so either can overwrite the other.
test('a key type that ends like a layout key does not make up a session', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const store = await openStore(r.url)
  await store.setKeys('x', { 'y}:creds': { 1: { v: 1 } } })
  t.deepEqual(await store.sessions(), ['x'])
  await store.close()
})

// --- 4. A batch is applied whole ---------------------------------------------------------

test('a batch touching a key of the wrong type is refused with ERR_STORE_IO and writes nothing', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const store = await openStore(r.url)
  await redisCommand(r, 'SET', 'baileys:{s}:keys:session', 'x')
  const before = await snapshot(r)
  await rejectsWith(t, store.setKeys('s', { 'pre-key': { 1: preKey(1) }, session: { 'a.0': { v: 1 } } }), ErrorCodes.STORE_IO)
  t.deepEqual(await snapshot(r), before, 'the pre-key part was not written')
  await rejectsWith(t, store.setKeys('s', { 'pre-key': { 1: preKey(1) }, session: { 'a.0': null } }), ErrorCodes.STORE_IO, 'a delete too')
  t.deepEqual(await snapshot(r), before)
  // The store still works for everything else.
  await store.setKeys('s', { 'pre-key': { 1: preKey(1) } })
  t.deepEqual(await store.getKeys('s', 'pre-key', ['1']), { 1: preKey(1) })
  await store.close()
})

// Bug: APPLY_LUA checks the types of the hashes before writing, but not the type of
// `P:{S}:types`: when it is not a set, HSET runs, then SADD fails, and the script stops
// halfway (Redis does not roll back a script), leaving the pre-key written.
test('a batch is not half-applied when the set of types has the wrong type', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const store = await openStore(r.url)
  await redisCommand(r, 'SET', 'baileys:{s}:types', 'x')
  const before = await snapshot(r)
  await rejectsWith(t, store.setKeys('s', { 'pre-key': { 1: preKey(1) } }), ErrorCodes.STORE_IO)
  t.deepEqual(await snapshot(r), before, 'nothing written')
  await store.close()
})

test('a reader never sees part of a batch, even while big batches are written back to back', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const store = await openStore(r.url)
  const types = ['pre-key', 'session', 'sender-key']
  const hashes = types.map((type) => `baileys:{atomic}:keys:${type}`)
  // Reads all hashes and the set of types in one atomic step.
  const read = `
    local out = { redis.call('SMEMBERS', KEYS[1]) }
    for i = 2, #KEYS do out[i] = redis.call('HVALS', KEYS[i]) end
    return out`
  let writing = true
  let generation = 0
  let reads = 0
  const writer = (async () => {
    // Until both sides did enough rounds (by count, not time: a loaded machine is slower).
    const deadline = Date.now() + 20_000
    while ((generation < 20 || reads < 20) && Date.now() < deadline) {
      generation++
      // The same value everywhere: one batch writes identical blobs to all 3 x 40 fields.
      const value = { generation, pad: Buffer.alloc(300, generation % 256) }
      const batch = {}
      for (const type of types) batch[type] = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`id-${i}`, value]))
      await store.setKeys('atomic', batch)
    }
    writing = false
  })()
  let torn = 0
  while (writing) {
    const [members, ...values] = await redisCommand(r, 'EVAL', read, 1 + hashes.length, 'baileys:{atomic}:types', ...hashes)
    reads++
    const blobs = values.flat()
    if (blobs.length === 0 && members.length === 0) continue // before the first batch
    const whole = members.length === 3 && blobs.length === 120 && blobs.every((b) => b.equals(blobs[0]))
    if (!whole) torn++
  }
  await writer
  t.is(torn, 0, `${torn} of ${reads} reads saw part of a batch`)
  t.true(reads >= 20, `${reads} reads during ${generation} batches`)
  t.true(generation >= 20, `${generation} batches`)
  await store.close()
})

// --- 5. Unavailability -----------------------------------------------------------------

test('when the server dies during traffic, every call rejects with ERR_STORE_UNAVAILABLE, none unhandled', async (t) => {
  if (!requireRedis(t)) return
  const unhandledBefore = unhandled.length
  const r = await startRedis()
  const commandTimeoutMs = 1000
  const store = await openStore(r.url, { commandTimeoutMs, connectTimeoutMs: 1000 })
  await store.setKeys('s', { 'pre-key': { 1: preKey(1) } })
  await store.setCreds('s', { a: 1 })

  const calls = []
  const issue = () => {
    const i = calls.length
    const call = { i, issued: Date.now(), settled: 0, ok: false, err: null }
    calls.push(call)
    const kind = i % 4
    const promise =
      kind === 0 ? store.setKeys('s', { 'pre-key': { [i]: preKey(i % 200) } })
      : kind === 1 ? store.getKeys('s', 'pre-key', ['1'])
      : kind === 2 ? store.getCreds('s')
      : store.setCreds('s', { i })
    // Deliberately not awaited: a rejection must still be delivered to this handler.
    call.promise = promise.then(
      () => { call.ok = true },
      (err) => { call.err = err },
    ).finally(() => { call.settled = Date.now() })
  }
  const traffic = setInterval(issue, 25)
  await sleep(200)
  await r.kill('SIGKILL')
  const killed = Date.now()
  // Until enough calls were issued against the dead server (a loaded machine fires fewer timers).
  await until(() => calls.filter((c) => c.issued > killed).length >= 5, 10_000)
  clearInterval(traffic)
  await Promise.all(calls.map((c) => c.promise))

  const after = calls.filter((c) => c.issued > killed)
  t.true(after.length >= 5, `${after.length} calls issued after the kill`)
  for (const c of calls) {
    if (c.ok) continue
    t.is(c.err?.code, ErrorCodes.STORE_UNAVAILABLE, `call ${c.i}: ${c.err?.message}`)
    t.true(isAuthStoreError(c.err))
  }
  for (const c of after) t.false(c.ok, `call ${c.i} issued after the kill`)
  // Calls run one at a time: each call's own time runs from when the store got to it.
  let previous = 0
  for (const c of calls) {
    const own = c.settled - Math.max(c.issued, previous)
    t.true(own < commandTimeoutMs + 1500, `call ${c.i} took ${own} ms`)
    previous = c.settled
  }
  await rejectsWith(t, store.check(), ErrorCodes.STORE_UNAVAILABLE)
  await t.notThrowsAsync(store.close())
  await sleep(50) // let unhandled rejections, if any, be reported
  t.deepEqual(unhandled.slice(unhandledBefore), [])
})

// Bug (design): commandTimeoutMs bounds one operation once the store's thread runs it, not
// the time from the call: calls queue behind each other, so while the server hangs the n-th
// pending call rejects only after n x commandTimeoutMs (after a SIGKILL, ~130 ms of reconnect
// per call: at 50 calls/s the wait grows without bound, 17 s after 3 s in a manual run).
test('while the server hangs, each call rejects within commandTimeoutMs (+ slack) of being issued', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const commandTimeoutMs = 500
  const store = await openStore(r.url, { commandTimeoutMs, connectTimeoutMs: 500 })
  await store.setCreds('s', { a: 1 })
  process.kill(r.pid, 'SIGSTOP')
  try {
    const latencies = await Promise.all(
      Array.from({ length: 6 }, () => {
        const issued = Date.now()
        return store.getCreds('s').then(
          () => ({ ok: true }),
          (err) => ({ code: err.code, ms: Date.now() - issued }),
        )
      }),
    )
    for (const [i, l] of latencies.entries()) {
      t.is(l.code, ErrorCodes.STORE_UNAVAILABLE, `call ${i}`)
      t.true(l.ms < commandTimeoutMs + 1500, `call ${i} rejected after ${l.ms} ms`)
    }
  } finally {
    process.kill(r.pid, 'SIGCONT')
  }
  await store.close()
})

test('opening a store whose server is down or mute rejects with ERR_STORE_UNAVAILABLE within connectTimeoutMs', async (t) => {
  if (!requireRedis(t)) return
  const connectTimeoutMs = 800
  const r = await startRedis()
  const sock = await startRedis({ unixSocket: true })
  await Promise.all([r.kill('SIGKILL'), sock.kill('SIGKILL')])
  // Accepts connections and never answers.
  const sockets = []
  const mute = createServer((s) => sockets.push(s))
  await new Promise((resolve) => mute.listen(0, '127.0.0.1', resolve))
  const mutePort = mute.address().port
  const downPort = await freePort()
  try {
    for (const url of [
      r.url,
      sock.url,
      `redis+cluster://127.0.0.1:${downPort},127.0.0.1:${r.port}`,
      `redis://127.0.0.1:${mutePort}`,
      `redis+cluster://127.0.0.1:${mutePort}`,
    ]) {
      const started = Date.now()
      await rejectsWith(t, openStore(url, { connectTimeoutMs, commandTimeoutMs: 5000 }), ErrorCodes.STORE_UNAVAILABLE, url)
      const ms = Date.now() - started
      t.true(ms < connectTimeoutMs + 1500, `${url}: ${ms} ms`)
    }
  } finally {
    for (const s of sockets) s.destroy()
    mute.close()
  }
})

// --- 6. Recovery and durability -----------------------------------------------------------

for (const unixSocket of [false, true]) {
  test(`${unixSocket ? 'unix socket' : 'TCP'}: after kill -9 and a restart the same store works again, with every acknowledged write, in issue order`, async (t) => {
    if (!requireRedis(t)) return
    const r = await startRedis({ appendonly: true, appendfsync: 'always', unixSocket })
    const store = await openStore(r.url, { commandTimeoutMs: 1000, connectTimeoutMs: 1000 })
    const settled = []
    const acked = new Map() // id -> value of an acknowledged write
    let credsAcked = null
    const calls = []
    let n = 0
    const issue = () => {
      const i = n++
      let call
      if (i % 5 === 4) {
        call = store.setCreds('d', { i }).then(() => (credsAcked = Math.max(credsAcked ?? -1, i)))
      } else if (i % 5 === 3) {
        call = store.getKeys('d', 'session', [`w${i - 1}`])
      } else {
        call = store.setKeys('d', { session: { [`w${i}`]: { i } }, 'pre-key': { [i]: preKey(i % 200) } }).then(() => acked.set(i, { i }))
      }
      calls.push(call.then(() => settled.push(i), () => settled.push(i)))
    }
    const traffic = setInterval(issue, 5)
    // Until enough writes were acknowledged (a loaded machine is slower), then the crash.
    await until(() => acked.size > 10, 10_000)
    await r.kill('SIGKILL')
    await sleep(100)
    await r.restart()
    await sleep(100)
    clearInterval(traffic)
    await Promise.all(calls)
    t.deepEqual(settled, [...settled].sort((a, b) => a - b), 'settled in issue order across the outage')

    // The same store object, not reopened.
    const { tries } = await eventually(() => store.getCreds('d'), 5000)
    t.log(`${n} calls, ${acked.size} acknowledged key writes; the store answered after ${tries} tries`)
    t.true(acked.size > 10)
    const ids = [...acked.keys()]
    const got = await store.getKeys('d', 'session', ids.map((i) => `w${i}`))
    for (const i of ids) t.deepEqual(got[`w${i}`], { i }, `acknowledged write ${i}`)
    const preKeys = await store.getKeys('d', 'pre-key', ids.map(String))
    for (const i of ids) t.deepEqual(preKeys[i], preKey(i % 200), `acknowledged pre-key ${i}`)
    if (credsAcked !== null) t.true((await store.getCreds('d')).i >= credsAcked)

    // Writes (scripts: the restarted server has an empty script cache) and order, after recovery.
    const order = []
    const after = []
    for (let i = 0; i < 300; i++) {
      const call = i % 2 ? store.getKeys('d', 'session', [`x${i - 1}`]) : store.setKeys('d', { session: { [`x${i}`]: { i } } })
      after.push(call.then((v) => (order.push(i), v)))
    }
    const results = await Promise.all(after)
    t.deepEqual(order, [...order].sort((a, b) => a - b))
    for (let i = 1; i < 300; i += 2) t.deepEqual(results[i], { [`x${i - 1}`]: { i: i - 1 } })
    t.deepEqual(await store.check(), [])
    await store.close()
  })
}

// --- 7. TTL -----------------------------------------------------------------------------

test('with ttlSeconds, a session expires as a whole; every access refreshes all of its keys', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  // 4 s, so that a loaded machine cannot age a key out between two steps of the test.
  const store = await openStore(r.url, { ttlSeconds: 4 })
  const keys = ['baileys:{e}:creds', 'baileys:{e}:types', 'baileys:{e}:keys:pre-key', 'baileys:{e}:keys:session', 'baileys:{e}:updated']
  const pttls = () => Promise.all(keys.map((k) => redisCommand(r, 'PTTL', k)))
  await store.setCreds('e', { a: 1 })
  await store.setKeys('e', { 'pre-key': { 1: preKey(1) }, session: { x: { v: 1 } } })
  t.deepEqual(await keysOf(r), [...keys].sort())
  for (const [i, ms] of (await pttls()).entries()) t.true(ms > 0 && ms <= 4000, `${keys[i]}: ${ms}`)

  // Each kind of access refreshes every key of the session, not only the one it reads.
  for (const access of [() => store.getKeys('e', 'pre-key', ['1']), () => store.getCreds('e'), () => store.setKeys('e', { session: { y: 1 } })]) {
    await sleep(700)
    const before = Math.max(...(await pttls()))
    t.true(before <= 3400, `aged to ${before}`)
    await access()
    const after = await pttls()
    for (const [i, ms] of after.entries()) t.true(ms > before && ms <= 4000, `${keys[i]} refreshed: ${before} -> ${ms}`)
  }

  // Left alone: all keys go at the same moment (EXISTS over all of them is 4 or 0, never between).
  const counts = new Set()
  const deadline = Date.now() + 8000
  for (;;) {
    const count = await redisCommand(r, 'EXISTS', ...keys)
    counts.add(count)
    if (count === 0 || Date.now() > deadline) break
    await sleep(10)
  }
  t.deepEqual([...counts].sort(), [0, keys.length])
  t.is(await store.getCreds('e'), null)
  t.deepEqual(await store.getKeys('e', 'pre-key', ['1']), { 1: null })
  t.deepEqual(await store.getKeys('e', 'session', ['x', 'y']), { x: null, y: null })
  t.deepEqual(await store.sessions(), [])
  await store.close()
})

test('without ttlSeconds, no key expires', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const store = await openStore(r.url)
  const { state, saveCreds } = await useRustAuthState('n', { store, baileys })
  await saveCreds()
  await state.keys.set({ 'pre-key': { 1: preKey(1) }, session: { x: { v: 1 } } })
  await state.keys.get('pre-key', ['1'])
  const keys = await keysOf(r)
  t.is(keys.length, 6, 'creds, types, updated, two hashes and the lease')
  for (const key of keys) t.is(await redisCommand(r, 'PTTL', key), -1, key)
  await store.close()
})

// Bug: with ttlSeconds, GET_KEYS_LUA passes the ids through Lua's unpack(), which fails
// past ~8000 values ("too many results to unpack"); without a TTL the same call works.
test('with ttlSeconds, reading 10000 ids works as it does without', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const store = await openStore(r.url, { ttlSeconds: 60 })
  await store.setKeys('s', { session: { 5: { v: 5 } } })
  const ids = Array.from({ length: 10_000 }, (_, i) => String(i))
  const got = await store.getKeys('s', 'session', ids)
  t.is(Object.keys(got).length, 10_000)
  t.deepEqual(got['5'], { v: 5 })
  await store.close()
})

// --- 8. Option and URL validation ----------------------------------------------------------

test('bad Redis options and URLs are rejected with ERR_INVALID_ARG before connecting', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const bad = [
    { keyPrefix: '' }, { keyPrefix: 'a{b' }, { keyPrefix: 'a}' }, { keyPrefix: 'x*' }, { keyPrefix: 'x?' },
    { keyPrefix: 'x[1]' }, { keyPrefix: 'a b' }, { keyPrefix: 'a\\b' }, { keyPrefix: 42 }, { keyPrefix: null },
    { connectTimeoutMs: 0 }, { connectTimeoutMs: -1 }, { connectTimeoutMs: NaN }, { connectTimeoutMs: Infinity }, { connectTimeoutMs: '1000' },
    { commandTimeoutMs: 0 }, { commandTimeoutMs: -5 }, { commandTimeoutMs: '5' }, { commandTimeoutMs: null },
    { ttlSeconds: 0 }, { ttlSeconds: 'x' }, { ttlSeconds: -1 }, { ttlSeconds: 0.5 },
    { keyprefix: 'a' }, { db: 1 }, { password: 'x' },
  ]
  for (const options of bad) {
    await rejectsWith(t, openStore(r.url, options), ErrorCodes.INVALID_ARG, JSON.stringify(options) ?? String(options))
  }
  for (const options of [null, 'x', 5]) await rejectsWith(t, openStore(r.url, options), ErrorCodes.INVALID_ARG, String(options))
  // Redis options with a store that is not Redis.
  for (const url of ['sqlite::memory:', 'memory:', `sqlite:${join(r.dir, 'x.db')}`]) {
    await rejectsWith(t, openStore(url, { keyPrefix: 'x' }), ErrorCodes.INVALID_ARG, url)
    await rejectsWith(t, openStore(url, { ttlSeconds: 5 }), ErrorCodes.INVALID_ARG, url)
  }
  const urls = [
    'redis://', 'redis:///', 'redis://:1', 'redis://host:notaport', 'redis://127.0.0.1:99999', 'redis://127.0.0.1:1/notadb',
    'redis+unix://', 'unix://', 'redis+cluster://', 'rediss+cluster://', 'redis+cluster://,', 'redis+cluster://h:1/0', 'redis+cluster://h:x',
  ]
  for (const url of urls) await rejectsWith(t, openStore(url, { connectTimeoutMs: 500 }), ErrorCodes.INVALID_ARG, url)
  // Options that are undefined are ignored, valid ones accepted.
  const store = await openStore(r.url, { keyPrefix: undefined, ttlSeconds: 1.5, connectTimeoutMs: 1000, commandTimeoutMs: 1000 })
  await store.setCreds('s', { a: 1 })
  const ttl = await redisCommand(r, 'PTTL', 'baileys:{s}:creds')
  t.true(ttl > 1000 && ttl <= 1500, `fractional ttlSeconds: ${ttl} ms`)
  await store.close()
})

// Bug: options go through Duration::from_secs_f64, which panics on numbers too big for a
// Duration (>= ~1.8e19 s): the panic aborts the whole Node process (SIGABRT) instead of a
// rejection. And ttlSeconds >= ~9.2e15 is accepted though Redis refuses that expiry, so
// every write of the store then fails with ERR_STORE_IO.
test('out-of-range numeric options are refused with ERR_INVALID_ARG and never crash the process', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  for (const options of ['{ ttlSeconds: 1e300 }', '{ connectTimeoutMs: 1e300 }', '{ commandTimeoutMs: Number.MAX_VALUE }', '{ ttlSeconds: 1e16 }']) {
    const script = `
      const { openStore } = require(${JSON.stringify(require.resolve('../index.js'))})
      openStore(${JSON.stringify(r.url)}, ${options}).then(
        async (store) => {
          try {
            await store.setKeys('s', { session: { x: { v: 1 } } })
            console.log('works')
          } catch (err) {
            console.log('write failed ' + err.code)
          }
          await store.close()
        },
        (err) => console.log(err.code),
      )`
    const child = spawnSync(process.execPath, ['-e', script], { timeout: 20_000, encoding: 'utf8' })
    t.is(child.signal, null, `${options}: killed by ${child.signal}`)
    t.is(child.status, 0, options)
    t.true(['ERR_INVALID_ARG', 'works'].includes(child.stdout.trim()), `${options}: ${child.stdout.trim()}`)
  }
})

// --- 9. Cluster ---------------------------------------------------------------------------

test('on a 3-master cluster, sessions on every node round-trip, share one slot each, are listed and deleted', async (t) => {
  if (!requireRedis(t)) return
  const cluster = await sharedCluster()
  const ports = cluster.nodes.map((n) => n.port)
  const owners = await slotOwners(ports[0])
  t.is(owners.size, 3)
  const nodeOf = (slot) => [...owners].find(([, ranges]) => ranges.some(([a, b]) => slot >= a && slot <= b))[0]

  // Two sessions per node: ids chosen by the slot of their hash tag.
  const prefix = 'c9'
  const byNode = new Map(ports.map((p) => [p, []]))
  for (let i = 0; [...byNode.values()].some((ids) => ids.length < 2); i++) {
    const id = `s${i}`
    const ids = byNode.get(nodeOf(keySlot(`{${id}}`)))
    if (ids.length < 2) ids.push(id)
  }
  const sessions = [...byNode.values()].flat()
  // Our slot function agrees with the cluster's.
  for (const id of sessions) t.is(await redisCommand({ port: ports[0] }, 'CLUSTER', 'KEYSLOT', `${prefix}:{${id}}:creds`), keySlot(`{${id}}`))

  const store = await openStore(cluster.url, { keyPrefix: prefix, commandTimeoutMs: 3000 })
  const handles = new Map()
  for (const id of sessions) {
    const handle = await useRustAuthState(id, { store, baileys })
    handles.set(id, handle)
    const { state, saveCreds } = handle
    state.creds.me = { id: `${id}@s.whatsapp.net` }
    await saveCreds()
    await state.keys.set({ 'pre-key': { 1: preKey(1), 2: preKey(2) }, session: { [`${id}.0`]: { id } } })
  }
  for (const id of sessions) {
    t.deepEqual((await store.getCreds(id)).me, { id: `${id}@s.whatsapp.net` })
    t.deepEqual(await store.getKeys(id, 'pre-key', ['1', '2', '3']), { 1: preKey(1), 2: preKey(2), 3: null })
    t.deepEqual(await store.getKeys(id, 'session', [`${id}.0`]), { [`${id}.0`]: { id } })
  }

  // Every node holds exactly the keys of its sessions, each session's keys in one slot.
  for (const port of ports) {
    const keys = await keysOf({ port }, `${prefix}:*`)
    const expected = byNode.get(port).flatMap((id) => ['creds', 'types', 'keys:pre-key', 'keys:session', 'updated', 'lease'].map((k) => `${prefix}:{${id}}:${k}`))
    t.deepEqual(keys, expected.sort(), `node ${port}`)
    for (const id of byNode.get(port)) {
      const slots = new Set()
      for (const key of keys.filter((k) => k.startsWith(`${prefix}:{${id}}:`))) slots.add(await redisCommand({ port }, 'CLUSTER', 'KEYSLOT', key))
      t.is(slots.size, 1, `session ${id}`)
    }
  }

  t.deepEqual(await store.sessions(), [...sessions].sort())
  const [gone, ...kept] = sessions
  // Owned sessions: their handles delete and clear them (the store alone may not).
  await handles.get(gone).deleteSession()
  t.deepEqual(await store.sessions(), [...kept].sort())
  t.is(await store.getCreds(gone), null)
  t.deepEqual(await store.getKeys(gone, 'pre-key', ['1']), { 1: null })
  const node = nodeOf(keySlot(`{${gone}}`))
  t.deepEqual(await keysOf({ port: node }, `${prefix}:{${gone}}*`), [`${prefix}:{${gone}}:lease`], 'only the lease is kept: its epoch never goes back')
  await handles.get(kept[0]).state.keys.clear()
  t.deepEqual(await store.getKeys(kept[0], 'pre-key', ['1']), { 1: null })
  t.deepEqual(await store.sessions(), [...kept].sort(), 'a session with creds only is still listed')
  for (const id of kept.slice(1)) t.deepEqual(await store.getKeys(id, 'pre-key', ['1']), { 1: preKey(1) })
  await store.close()
})

test('on a cluster, a TTL store and ordering work as on a single server', async (t) => {
  if (!requireRedis(t)) return
  const cluster = await sharedCluster()
  const store = await openStore(cluster.url, { keyPrefix: 'cttl', ttlSeconds: 30, commandTimeoutMs: 3000 })
  const calls = []
  const order = []
  for (let i = 0; i < 200; i++) calls.push(store.setKeys(`s${i % 7}`, { 'pre-key': { 1: preKey(i) } }).then(() => order.push(i)))
  const last = await Promise.all([0, 1, 2, 3, 4, 5, 6].map((s) => store.getKeys(`s${s}`, 'pre-key', ['1'])))
  await Promise.all(calls)
  t.deepEqual(order, [...order].sort((a, b) => a - b))
  for (let s = 0; s < 7; s++) t.deepEqual(last[s]['1'], preKey(199 - ((199 - s) % 7)), `s${s}`)
  t.deepEqual(await store.sessions(), ['s0', 's1', 's2', 's3', 's4', 's5', 's6'])
  for (const { port } of cluster.nodes) {
    for (const key of await keysOf({ port }, 'cttl:*')) {
      const ms = await redisCommand({ port }, 'PTTL', key)
      t.true(ms > 0 && ms <= 30_000, `${key}: ${ms}`)
    }
  }
  await store.close()
})

// Bug: a session id starting with '}' gives keys like `P:{}x}:creds`, whose hash tag is empty,
// so Redis hashes each whole key: the session's keys land in different slots and every script
// fails with CROSSSLOT (ERR_STORE_IO) on a cluster, though the same session works standalone.
test('on a cluster, a session id starting with "}" works as on a single server', async (t) => {
  if (!requireRedis(t)) return
  const cluster = await sharedCluster()
  const store = await openStore(cluster.url, { keyPrefix: 'cbrace', commandTimeoutMs: 3000 })
  await store.setCreds('}x', { a: 1 })
  await store.setKeys('}x', { 'pre-key': { 1: preKey(1) } })
  t.deepEqual(await store.getKeys('}x', 'pre-key', ['1']), { 1: preKey(1) })
  await store.deleteSession('}x')
  t.deepEqual(await store.sessions(), [])
  await store.close()
})

// --- 10. Ordering -------------------------------------------------------------------------

test('a get issued after 200 un-awaited sets sees the last, and calls settle in issue order', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const store = await openStore(r.url)
  const { state } = await useRustAuthState('order', { store, baileys })
  const writes = []
  for (let i = 0; i < 200; i++) writes.push(state.keys.set({ 'pre-key': { 1: preKey(i) } }))
  t.deepEqual((await state.keys.get('pre-key', ['1']))['1'], preKey(199))
  await Promise.all(writes)

  // The store's own calls, on a session nobody owns ('order' is owned by the handle above).
  const settled = []
  const calls = []
  for (let i = 0; i < 2000; i++) {
    const kind = i % 4
    const call =
      kind === 0 ? store.setKeys('mixed', { session: { x: { i } } })
      : kind === 1 ? store.getKeys('mixed', 'session', ['x'])
      : kind === 2 ? store.setCreds('mixed', { i })
      : store.getCreds('mixed')
    calls.push(call.then((value) => (settled.push(i), value)))
  }
  const results = await Promise.all(calls)
  t.deepEqual(settled, [...settled].sort((a, b) => a - b))
  for (let i = 1; i < 2000; i += 4) t.deepEqual(results[i], { x: { i: i - 1 } }, `get ${i}`)
  for (let i = 3; i < 2000; i += 4) t.deepEqual(results[i], { i: i - 1 }, `getCreds ${i}`)
  await store.close()
})

/**
 * A TCP proxy in front of a server that holds back every reply by `delayMs`: each round trip
 * takes at least that long, however idle the machine. Resolves to { port, close() }.
 */
async function slowProxy(target, delayMs) {
  const sockets = new Set()
  const server = createServer((client) => {
    const upstream = connectTcp({ port: target.port, host: '127.0.0.1' })
    sockets.add(client).add(upstream)
    client.on('data', (chunk) => upstream.write(chunk))
    // Timers of one duration fire in the order they were set: replies keep their order.
    upstream.on('data', (chunk) => setTimeout(() => client.destroyed || client.write(chunk), delayMs))
    for (const [a, b] of [[client, upstream], [upstream, client]]) {
      a.on('error', () => b.destroy())
      a.on('close', () => b.destroy())
    }
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: server.address().port,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(resolve))
    },
  }
}

test('paged walks give each round trip its own commandTimeoutMs, however long the whole walk takes', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  // Written directly: 30,000 ids of one type (30 pages of listing) and 6,000 sessions (12,000
  // top-level keys, a dozen SCAN pages).
  const direct = await openStore(r.url)
  const ids = Array.from({ length: 30_000 }, (_, i) => `id-${i}`)
  await direct.setKeys('big', { session: Object.fromEntries(ids.map((id) => [id, 'v'])) })
  await Promise.all(Array.from({ length: 6000 }, (_, i) => direct.setCreds(`s${i}`, { n: i })))
  await direct.close()

  // Through a proxy that makes each round trip take 60 ms, with a 600 ms timeout: one round
  // trip is well within it, the walks as a whole are not (before, they failed with
  // ERR_STORE_UNAVAILABLE).
  const proxy = await slowProxy(r, 60)
  const store = await openStore(`redis://127.0.0.1:${proxy.port}`, { commandTimeoutMs: 600, connectTimeoutMs: 5000 })
  try {
    const listed = await store.listKeys('big')
    t.is(listed.length, ids.length)
    const stats = await store.stats('big')
    t.is(stats.keys.session.count, ids.length)
    const sessions = await store.sessions()
    t.is(sessions.length, 6001)
  } finally {
    await store.close()
    await proxy.close()
  }
})

test('a store without ttlSeconds writing a session that expires keeps every key of it on one deadline', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const withTtl = await openStore(r.url, { ttlSeconds: 3600 })
  const withoutTtl = await openStore(r.url)
  await withTtl.setCreds('s', { registrationId: 1 })
  await withTtl.setKeys('s', { 'pre-key': { 1: preKey(1) }, session: { a: { x: 1 } } })
  const deadlines = async () => {
    const keys = await keysOf(r, 'baileys:{s}:*')
    return Object.fromEntries(await Promise.all(keys.map(async (key) => [key, await redisCommand(r, 'PEXPIRETIME', key)])))
  }
  const before = await deadlines()
  const deadline = before['baileys:{s}:creds']
  t.true(deadline > 0)
  t.true(Object.values(before).every((d) => d === deadline), JSON.stringify(before))

  // The CLI, a migration or another service saves creds and keys (a new type among them),
  // clears keys: the session keeps its one deadline.
  await withoutTtl.setCreds('s', { registrationId: 2 })
  await withoutTtl.setKeys('s', { 'sender-key-memory': { g: { a: true } }, session: { a: null } })
  let after = await deadlines()
  t.deepEqual(Object.keys(after).sort(), ['baileys:{s}:creds', 'baileys:{s}:keys:pre-key', 'baileys:{s}:keys:sender-key-memory', 'baileys:{s}:types', 'baileys:{s}:updated'])
  t.true(Object.values(after).every((d) => d === deadline), `one deadline for every key: ${JSON.stringify(after)}`)
  await withoutTtl.clearKeys('s')
  after = await deadlines()
  t.deepEqual(Object.keys(after).sort(), ['baileys:{s}:creds', 'baileys:{s}:updated'])
  t.true(Object.values(after).every((d) => d === deadline), JSON.stringify(after))

  // A session that never had a TTL gets none from such writes.
  await withoutTtl.setCreds('plain', { registrationId: 3 })
  await withoutTtl.setKeys('plain', { session: { a: 1 } })
  for (const key of await keysOf(r, 'baileys:{plain}:*')) t.is(await redisCommand(r, 'PTTL', key), -1, key)
  await Promise.all([withTtl.close(), withoutTtl.close()])
})

test('names and values in Redis that are not valid UTF-8 are ERR_STORE_CORRUPT, never U+FFFD', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const store = await openStore(r.url)
  await store.setKeys('s', { session: { a: 1 } })
  // A value whose string is C3 28 (not UTF-8), and an id that is not UTF-8.
  await redisCommand(r, 'HSET', 'baileys:{s}:keys:session', 'b', Buffer.from([1, 5, 2, 0xc3, 0x28]))
  await rejectsWith(t, store.getKeys('s', 'session', ['b']), ErrorCodes.STORE_CORRUPT)
  await redisCommand(r, 'HSET', 'baileys:{s}:keys:session', Buffer.from([0x69, 0xff]), Buffer.from([1, 0]))
  await rejectsWith(t, store.listKeys('s'), ErrorCodes.STORE_CORRUPT)
  await rejectsWith(t, store.stats('s'), ErrorCodes.STORE_CORRUPT)
  await store.close()
})

test('migrate refuses one Redis server, db and key prefix under two URLs, and copies between prefixes', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis()
  const store = await openStore(r.url)
  await store.setCreds('s', { registrationId: 1 })
  await store.setKeys('s', { session: { a: 1 } })
  await store.close()
  const other = `redis://localhost:${r.port}/0`
  await rejectsWith(t, migrate({ from: r.url, to: other, overwrite: true }), ErrorCodes.INVALID_ARG)
  const copied = await migrate({ from: r.url, to: other, toOptions: { keyPrefix: 'copy' } })
  t.is(copied.sessions.length, 1)
  const check = await openStore(r.url)
  t.deepEqual(await check.getKeys('s', 'session', ['a']), { a: 1 }, 'the source is intact')
  await check.close()
})

test('errors about a Redis URL never show its password', async (t) => {
  if (!requireRedis(t)) return
  for (const url of ['redis+cluster://:s3cret-pass@', 'redis+cluster://u:s3cret-pass@h:1/0', 'redis://u:s3cret-pass@127.0.0.1:1']) {
    const err = await t.throwsAsync(openStore(url, { connectTimeoutMs: 500 }))
    t.false(err.message.includes('s3cret-pass'), err.message)
  }
})

test('a URL that reaches an HTTP server instead of Redis says so, in one line', async (t) => {
  const { createServer: createHttpServer } = await import('node:http')
  const http = createHttpServer((req, res) => res.end('hello'))
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve))
  const url = `redis://127.0.0.1:${http.address().port}`
  try {
    // The HTTP server answers at once; the generous timeouts only keep a loaded machine (this
    // process's own event loop serves the HTTP side) from turning the answer into a timeout.
    const err = await rejectsWith(t, openStore(url, { connectTimeoutMs: 60_000, commandTimeoutMs: 60_000 }), ErrorCodes.STORE_IO)
    t.regex(err.message, /not as a Redis server/)
    t.true(err.message.includes(url), err.message)
    t.false(err.message.includes('\n'), err.message)
  } finally {
    http.closeAllConnections()
    await new Promise((resolve) => http.close(resolve))
  }
})

test('a primary and its replica are one store: migrate refuses to overwrite one with the other', async (t) => {
  if (!requireRedis(t)) return
  const primary = await startRedis()
  const replica = await startRedis({ extraArgs: ['--replicaof', '127.0.0.1', String(primary.port)] })
  const store = await openStore(primary.url)
  await store.setCreds('s', { registrationId: 1 })
  await store.setKeys('s', { session: { a: 1 } })
  // Wait until the replica has the data (replication is asynchronous).
  const mirror = await openStore(replica.url)
  await eventually(async () => {
    if ((await mirror.getCreds('s')) === null) throw new Error('the replica has not synced yet')
  }, 20_000)
  await mirror.close()
  await rejectsWith(t, migrate({ from: replica.url, to: primary.url, overwrite: true }), ErrorCodes.INVALID_ARG)
  t.deepEqual(await store.getKeys('s', 'session', ['a']), { a: 1 }, 'the primary keeps the session')
  await store.close()
})

test('a node of a cluster is no store of its own: opening it, or migrating onto or from it, is refused naming the cluster URL', async (t) => {
  if (!requireRedis(t)) return
  const cluster = await startRedisCluster()
  const store = await openStore(cluster.url)
  await store.setCreds('s', { registrationId: 1 })
  await store.close()
  const node = `redis://127.0.0.1:${cluster.nodes[0].port}`
  const err = await rejectsWith(t, openStore(node), ErrorCodes.INVALID_ARG)
  t.regex(err.message, /node of a Redis Cluster: open the cluster with redis\+cluster:/)
  await rejectsWith(t, migrate({ from: cluster.url, to: node, overwrite: true }), ErrorCodes.INVALID_ARG)
  await rejectsWith(t, migrate({ from: node, to: cluster.url, overwrite: true }), ErrorCodes.INVALID_ARG)
  const after = await openStore(cluster.url)
  t.deepEqual(await after.getCreds('s'), { registrationId: 1 })
  await after.close()
})

test('a user that may not run INFO opens the store; only a migration that would overwrite refuses to guess', async (t) => {
  if (!requireRedis(t)) return
  const r = await startRedis({ extraArgs: ['--user', 'app', 'on', '>app-pass', '~*', '&*', '+@all', '-@dangerous', '--user', 'default', 'on', 'nopass', '~*', '&*', '+@all'] })
  const url = `redis://app:app-pass@127.0.0.1:${r.port}`
  const store = await openStore(url)
  await store.setCreds('s', { registrationId: 1 })
  await store.setKeys('s', { session: { a: 1 } })
  t.deepEqual(await store.getKeys('s', 'session', ['a']), { a: 1 })
  t.deepEqual(await store.sessions(), ['s'])
  await store.close()
  const other = `redis://app:app-pass@localhost:${r.port}`
  const err = await rejectsWith(t, migrate({ from: url, to: other, overwrite: true }), ErrorCodes.INVALID_ARG)
  t.regex(err.message, /cannot tell whether/)
  t.false(err.message.includes('app-pass'))
  const copied = await migrate({ from: url, to: other, toOptions: { keyPrefix: 'copy' } })
  t.is(copied.sessions.length, 1, 'without overwrite a migration goes on (onto itself it would only verify)')
})

test('a URL with spaces or quotes around it is refused, and its password never shown', async (t) => {
  for (const url of [' redis://:hunter2@127.0.0.1:1', '"redis://:hunter2@127.0.0.1:1"', 'redis ://:hunter2@h', 'redis_tls://:hunter2@h']) {
    const err = await rejectsWith(t, openStore(url), ErrorCodes.INVALID_ARG)
    t.false(err.message.includes('hunter2'), err.message)
  }
})
