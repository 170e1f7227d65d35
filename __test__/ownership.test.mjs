// One owner per session (docs/ownership.md): leases between processes on one SQLite file and
// one Redis, fenced writes after a pause or a takeover, the reconnect pattern in one process,
// and the owner's cache. Other processes are real: fixtures/session-owner.mjs, driven over
// its stdin, stopped and killed by pid. Nothing waits a fixed time for an event: every wait
// polls with a deadline.
import test from 'ava'
import { spawn } from 'node:child_process'
import { renameSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

import { openStore, useRustAuthState, ErrorCodes } from '../index.mjs'
import { redisAvailable, requireRedis, startRedis } from './helpers/redis-server.mjs'
import { tempDir } from './helpers/temp.mjs'
import { until } from './helpers/until.mjs'

const OWNER = fileURLToPath(new URL('./fixtures/session-owner.mjs', import.meta.url))

/** A fresh store URL of each kind shared between processes. */
const SHARED = [
  { name: 'sqlite-file', url: async () => `sqlite:${join(tempDir(), 'auth.db')}`, kernelLock: true },
  { name: 'redis', url: async () => (await startRedis({ unixSocket: true })).url, kernelLock: false, redis: true },
]

/**
 * Starts a session owner process. `first` resolves to its first line (ready or refused);
 * `send(command)` to the reply to that command; `lost` once it reports losing the session.
 */
function startOwner(url, session, options = {}) {
  const child = spawn(process.execPath, [OWNER, url, session, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const replies = []
  const waiting = []
  let lostLine
  let resolveLost
  const lost = new Promise((resolve) => (resolveLost = resolve))
  createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line)
    if (message.lost) {
      lostLine = message
      return resolveLost(message)
    }
    const waiter = waiting.shift()
    if (waiter) waiter(message)
    else replies.push(message)
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const next = () => (replies.length ? Promise.resolve(replies.shift()) : new Promise((resolve) => waiting.push(resolve)))
  const first = next()
  return {
    pid: child.pid,
    first,
    lost,
    get lostLine() {
      return lostLine
    },
    exited,
    send(command) {
      child.stdin.write(`${JSON.stringify(command)}\n`)
      return next()
    },
    signal(name) {
      process.kill(child.pid, name)
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      return exited
    },
  }
}

for (const backend of SHARED) {
  const title = (what) => `${backend.name}: ${what}`
  const setup = async (t) => {
    if (backend.redis && !requireRedis(t)) return null
    return backend.url()
  }
  const skipWithoutRedis = backend.redis && !redisAvailable() && process.env.CI !== 'true'
  const it = skipWithoutRedis ? test.skip : test.serial

  it(title('a second process is refused ERR_SESSION_LOCKED with the owner, and takes the session at once after the first closes'), async (t) => {
    const url = await setup(t)
    const first = startOwner(url, 'bot')
    t.teardown(() => first.stop())
    t.true((await first.first).ready)
    const second = startOwner(url, 'bot')
    t.teardown(() => second.stop())
    const refused = await second.first
    t.is(refused.refused, ErrorCodes.SESSION_LOCKED, refused.message)
    t.is(refused.owner.pid, first.pid)
    t.is(typeof refused.owner.host, 'string')
    t.true(new Date(refused.owner.expiresAt) > new Date(refused.owner.acquiredAt))
    t.true((await first.send({ op: 'close' })).ok)
    await first.exited
    const third = startOwner(url, 'bot', { leaseMs: 600000 })
    t.teardown(() => third.stop())
    const ready = await third.first
    t.true(ready.ready, JSON.stringify(ready))
    t.is(ready.epoch, 2)
  })

  it(title('an owner stopped past its lease is fenced: the next owner writes, and the old one is refused and told'), async (t) => {
    const url = await setup(t)
    const first = startOwner(url, 'bot', { leaseMs: 1500 })
    t.teardown(() => first.stop())
    t.true((await first.first).ready)
    t.true((await first.send({ op: 'set', data: { session: { a: { by: 'first' } } } })).ok)
    first.signal('SIGSTOP')
    const store = await openStore(url)
    t.teardown(() => store.close())
    await until(async () => !(await store.lease('bot')).live, 'the stopped owner\u2019s lease to lapse')
    const second = startOwner(url, 'bot')
    t.teardown(() => second.stop())
    t.true((await second.first).ready, 'taken without takeover')
    t.true((await second.send({ op: 'set', data: { session: { a: { by: 'second' } } } })).ok)
    t.true((await second.send({ op: 'saveCreds', creds: { by: 'second' } })).ok)
    first.signal('SIGCONT')
    const set = await first.send({ op: 'set', data: { session: { a: { by: 'first again' }, b: { by: 'first again' } } } })
    t.is(set.code, ErrorCodes.SESSION_FENCED, set.message)
    const save = await first.send({ op: 'saveCreds', creds: { by: 'first again' } })
    t.is(save.code, ErrorCodes.SESSION_FENCED, save.message)
    t.is((await first.lost).lost, ErrorCodes.SESSION_FENCED)
    t.deepEqual(await store.getKeys('bot', 'session', ['a', 'b']), { a: { by: 'second' }, b: null })
    t.is((await store.getCreds('bot')).by, 'second')
  })

  it(title(backend.kernelLock ? 'a killed owner is replaced at once' : 'a killed owner is replaced once its lease lapses'), async (t) => {
    const url = await setup(t)
    const first = startOwner(url, 'bot', { leaseMs: backend.kernelLock ? 600000 : 2000 })
    t.true((await first.first).ready)
    first.signal('SIGKILL')
    await first.exited
    let attempts = 0
    const ready = await until(async () => {
      attempts++
      const next = startOwner(url, 'bot')
      const line = await next.first
      if (line.ready) {
        t.teardown(() => next.stop())
        return line
      }
      t.is(line.refused, ErrorCodes.SESSION_LOCKED)
      await next.stop()
      return null
    }, 'a new owner')
    t.is(ready.epoch, 2)
    if (backend.kernelLock) t.is(attempts, 1, 'the kernel released the dead owner\u2019s lock: no wait')
  })

  it(title('takeover: true takes the session from a running owner, whose next write is fenced'), async (t) => {
    const url = await setup(t)
    const first = startOwner(url, 'bot')
    t.teardown(() => first.stop())
    t.true((await first.first).ready)
    const taker = await useRustAuthState('bot', { store: url, takeover: true })
    t.teardown(() => taker.close())
    await taker.state.keys.set({ session: { a: { by: 'taker' } } })
    const set = await first.send({ op: 'set', data: { session: { a: { by: 'first' } } } })
    t.is(set.code, ErrorCodes.SESSION_FENCED)
    t.is((await first.lost).lost, ErrorCodes.SESSION_FENCED)
    t.deepEqual(await taker.state.keys.get('session', ['a']), { a: { by: 'taker' } })
  })

  it(title('the reconnect pattern: useRustAuthState again in the same process takes over from the earlier handle'), async (t) => {
    const url = await setup(t)
    const earlier = await useRustAuthState('bot', { store: url })
    await earlier.state.keys.set({ session: { a: { n: 1 } } })
    const later = await useRustAuthState('bot', { store: url })
    t.teardown(() => later.close())
    const lost = await earlier.lost
    t.is(lost.code, ErrorCodes.SESSION_FENCED)
    await t.throwsAsync(earlier.state.keys.set({ session: { a: { n: 2 } } }), { code: ErrorCodes.SESSION_FENCED })
    await t.throwsAsync(earlier.saveCreds(), { code: ErrorCodes.SESSION_FENCED })
    await t.throwsAsync(earlier.state.keys.get('session', ['a']), { code: ErrorCodes.SESSION_FENCED })
    await later.state.keys.set({ session: { a: { n: 3 } } })
    t.deepEqual(await later.state.keys.get('session', ['a']), { a: { n: 3 } })
    t.is(later.stats().lease.epoch, earlier.stats().lease.epoch + 1)
    await earlier.close()
  })

  it(title('a store opened without a lease cannot write an owned session, and reads it freely'), async (t) => {
    const url = await setup(t)
    const owner = await useRustAuthState('bot', { store: url })
    t.teardown(() => owner.close())
    await owner.state.keys.set({ session: { a: { n: 1 } } })
    const other = await openStore(url)
    t.teardown(() => other.close())
    const err = await t.throwsAsync(other.setKeys('bot', { session: { a: { n: 2 } } }), { code: ErrorCodes.SESSION_LOCKED })
    t.is(err.owner.pid, process.pid)
    await t.throwsAsync(other.deleteSession('bot'), { code: ErrorCodes.SESSION_LOCKED })
    t.deepEqual(await other.getKeys('bot', 'session', ['a']), { a: { n: 1 } })
    const stats = await other.stats('bot')
    t.is(stats.owner.pid, process.pid)
    t.true(stats.owner.live)
    t.true(stats.owner.expiresAt > new Date())
    t.deepEqual(
      (await other.leases()).map((l) => [l.session, l.live]),
      [['bot', true]],
    )
  })
}

test('memory: and sqlite::memory: stores take no lease unless asked', async (t) => {
  for (const url of ['memory:', 'sqlite::memory:']) {
    const store = await openStore(url)
    const handle = await useRustAuthState('bot', { store })
    t.is(handle.stats().lease, null, url)
    t.is(handle.stats().cache, null, url)
    await handle.close()
    const leased = await useRustAuthState('bot', { store, lease: true })
    t.is(leased.stats().lease.epoch, 1, url)
    await leased.close()
    await store.close()
  }
})

test('lease: false opts out, and bad lease options are refused before anything is opened', async (t) => {
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  const handle = await useRustAuthState('bot', { store: url, lease: false })
  t.is(handle.stats().lease, null)
  await handle.close()
  for (const options of [{ leaseMs: 10 }, { leaseMs: '30000' }, { lease: 'yes' }, { takeover: 1 }, { onLost: true }, { cacheBytes: -1 }, { lease: false, takeover: true }]) {
    await t.throwsAsync(useRustAuthState('bot', { store: url, ...options }), { code: ErrorCodes.INVALID_ARG }, JSON.stringify(options))
  }
})

test('close gives the lease back: the next owner takes the session at once', async (t) => {
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  const first = await useRustAuthState('bot', { store: url, leaseMs: 600000 })
  await first.close()
  const store = await openStore(url)
  t.teardown(() => store.close())
  t.false((await store.lease('bot')).live)
  await store.setKeys('bot', { session: { a: { n: 1 } } }, undefined)
  const second = await store.acquireLease('bot', { claim: 'refuse' })
  t.is(second.epoch, 2)
  await store.releaseLease('bot', second.fence)
})

test('onLost is called once with the error when the session is taken over', async (t) => {
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  const calls = []
  const first = await useRustAuthState('bot', { store: url, onLost: (err) => calls.push(err.code) })
  const second = await useRustAuthState('bot', { store: url })
  t.teardown(() => second.close())
  await first.lost
  await until(() => calls.length > 0, 'onLost')
  await t.throwsAsync(first.state.keys.set({ session: { a: {} } }), { code: ErrorCodes.SESSION_FENCED })
  t.deepEqual(calls, [ErrorCodes.SESSION_FENCED])
  await first.close()
})

// The owner's cache.

test('the owner cache answers reads of what it wrote and read, counting hits, and stays within its bound', async (t) => {
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  const handle = await useRustAuthState('bot', { store: url, cacheBytes: 20000 })
  t.teardown(() => handle.close())
  await handle.state.keys.set({ session: { a: { n: 1 } } })
  t.deepEqual(await handle.state.keys.get('session', ['a', 'missing']), { a: { n: 1 }, missing: null })
  let cache = handle.stats().cache
  t.is(cache.hits, 1)
  t.is(cache.misses, 1)
  t.deepEqual(await handle.state.keys.get('session', ['missing']), { missing: null })
  cache = handle.stats().cache
  t.is(cache.hits, 2, 'an absent key read once is known absent')
  t.is(cache.maxBytes, 20000)
  for (let i = 0; i < 100; i++) await handle.state.keys.set({ 'pre-key': { [i]: { private: Buffer.alloc(500, i), public: Buffer.alloc(500, i) } } })
  cache = handle.stats().cache
  t.true(cache.bytes <= 20000, `${cache.bytes} bytes`)
  t.true(cache.entries < 100)
  // An evicted value is read from the store, whole.
  t.deepEqual(await handle.state.keys.get('pre-key', ['0']), { 0: { private: Buffer.alloc(500, 0), public: Buffer.alloc(500, 0) } })
  t.true(handle.stats().cache.hitRate > 0)
})

test('a value from the owner cache is a copy: mutating what was written or read never changes a later get', async (t) => {
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  const handle = await useRustAuthState('bot', { store: url })
  t.teardown(() => handle.close())
  const written = { chain: { key: Buffer.from([1, 2, 3]), list: ['x', { y: 1 }] } }
  await handle.state.keys.set({ session: { a: written } })
  written.chain.key[0] = 99
  written.chain.list.push('z')
  const first = (await handle.state.keys.get('session', ['a'])).a
  t.deepEqual(first, { chain: { key: Buffer.from([1, 2, 3]), list: ['x', { y: 1 }] } })
  first.chain.key[1] = 99
  first.chain.list[1].y = 2
  first.extra = true
  const second = (await handle.state.keys.get('session', ['a'])).a
  t.deepEqual(second, { chain: { key: Buffer.from([1, 2, 3]), list: ['x', { y: 1 }] } })
  t.true(handle.stats().cache.hits >= 2)
  // What the cache answers equals what the store holds, decoded.
  const fresh = await openStore(url)
  t.teardown(() => fresh.close())
  t.deepEqual((await fresh.getKeys('bot', 'session', ['a'])).a, second)
})

test('a large value is lent from the cache once, and mutating it changes nothing stored or cached', async (t) => {
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  const handle = await useRustAuthState('bot', { store: url })
  t.teardown(() => handle.close())
  const chains = {}
  for (let i = 0; i < 400; i++) chains[`chain${i}`] = { key: 'k'.repeat(40), counter: i }
  const record = { chains }
  const expected = structuredClone(record)
  await handle.state.keys.set({ session: { big: record } })
  record.chains.chain0.counter = -1
  const lent = (await handle.state.keys.get('session', ['big'])).big
  t.deepEqual(lent, expected)
  t.is(handle.stats().cache.hits, 1)
  lent.chains.chain1.counter = -1
  delete lent.chains.chain2
  const again = (await handle.state.keys.get('session', ['big'])).big
  t.deepEqual(again, expected, 'read from the store: the lent copy was the caller\u2019s')
  t.is(handle.stats().cache.misses, 1)
  again.chains.chain3.counter = -1
  t.deepEqual((await handle.state.keys.get('session', ['big'])).big, expected, 'a large value read from the store is not kept')
})

test('values the codec normalizes are cached as the codec returns them: undefined dropped or null, -0 as 0, NaN as null', async (t) => {
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  const handle = await useRustAuthState('bot', { store: url })
  t.teardown(() => handle.close())
  // libsignal's session records carry properties that are undefined (a pending pre-key, say).
  const value = { pendingPreKey: undefined, list: [1, undefined, -0, NaN, Infinity], zero: -0, n: NaN, nested: { gone: undefined, kept: 'x' } }
  await handle.state.keys.set({ session: { a: value } })
  const fromCache = await handle.state.keys.get('session', ['a'])
  t.is(handle.stats().cache.hits, 1, 'cached, not refused by the copy')
  const fresh = await openStore(url)
  t.teardown(() => fresh.close())
  const fromStore = await fresh.getKeys('bot', 'session', ['a'])
  t.deepEqual(fromCache, fromStore)
  t.deepEqual(fromCache.a, { list: [1, null, 0, null, null], zero: 0, n: null, nested: { kept: 'x' } })
  t.false(Object.hasOwn(fromCache.a, 'pendingPreKey'))
  t.true(Object.is(fromCache.a.zero, 0))
})

test('values the cache cannot copy as the codec stores them are written as given and read from the store', async (t) => {
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  const handle = await useRustAuthState('bot', { store: url })
  t.teardown(() => handle.close())
  class Keyed {
    constructor() {
      this.n = 1
    }
  }
  const odd = {
    withJson: { toJSON: () => ({ replaced: true }) },
    instance: new Keyed(),
    buffer: { type: 'Buffer', data: 'AQI=' },
    dropped: { a: undefined, b: 1 },
    date: new Date(0),
  }
  await handle.state.keys.set({ odd })
  const fresh = await openStore(url)
  t.teardown(() => fresh.close())
  const stored = await fresh.getKeys('bot', 'odd', Object.keys(odd))
  t.deepEqual(await handle.state.keys.get('odd', Object.keys(odd)), stored)
  t.deepEqual(stored.buffer, Buffer.from([1, 2]))
})

test('a get issued after an un-awaited set sees the set, through the cache', async (t) => {
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  const handle = await useRustAuthState('bot', { store: url })
  t.teardown(() => handle.close())
  await handle.state.keys.set({ session: { a: { n: 0 } } })
  await handle.state.keys.get('session', ['a']) // cached
  const results = []
  for (let n = 1; n <= 50; n++) {
    const set = handle.state.keys.set({ session: { a: { n } } })
    results.push(handle.state.keys.get('session', ['a']).then((v) => [n, v.a.n]))
    if (n % 10 === 0) await set
  }
  for (const [n, seen] of await Promise.all(results)) t.is(seen, n)
  t.deepEqual(await handle.state.keys.get('session', ['a']), { a: { n: 50 } })
})

test('a failed write leaves the cache as it was: reads return the old value', async (t) => {
  const dir = tempDir()
  const url = `sqlite:${join(dir, 'auth.db')}`
  const handle = await useRustAuthState('bot', { store: url })
  t.teardown(() => handle.close())
  await handle.state.keys.set({ session: { a: { n: 1 } } })
  // An unstorable value: the batch is refused whole.
  await t.throwsAsync(handle.state.keys.set({ session: { a: { n: 2 }, b: { big: 1n } } }), { code: ErrorCodes.INVALID_ARG })
  t.deepEqual(await handle.state.keys.get('session', ['a', 'b']), { a: { n: 1 }, b: null })
  // The store refuses the write: its file was moved away while open.
  renameSync(join(dir, 'auth.db'), join(dir, 'moved.db'))
  await t.throwsAsync(handle.state.keys.set({ session: { a: { n: 3 } } }), { code: ErrorCodes.STORE_IO })
  t.deepEqual(await handle.state.keys.get('session', ['a']), { a: { n: 1 } })
})

test('redis: a write whose outcome is unknown (Redis down) is forgotten by the cache: its key is read from the store', async (t) => {
  if (!requireRedis(t)) return
  const server = await startRedis({ unixSocket: true })
  const store = await openStore(server.url, { commandTimeoutMs: 1000, connectTimeoutMs: 1000 })
  t.teardown(() => store.close())
  const handle = await useRustAuthState('bot', { store })
  t.teardown(() => handle.close())
  await handle.state.keys.set({ session: { a: { n: 1 }, b: { n: 1 } } })
  await server.stop()
  // The write may or may not have reached Redis: the cache cannot tell, so it keeps neither value.
  await t.throwsAsync(handle.state.keys.set({ session: { a: { n: 2 } } }), { code: ErrorCodes.STORE_UNAVAILABLE })
  await t.throwsAsync(handle.state.keys.get('session', ['a']), { code: ErrorCodes.STORE_UNAVAILABLE }, 'asked of the store')
  t.deepEqual(await handle.state.keys.get('session', ['b']), { b: { n: 1 } }, 'keys the write did not touch are still cached')
})

test('redis: a write applied whose reply came too late is not hidden by the cache', async (t) => {
  if (!requireRedis(t)) return
  const { connect, createServer } = await import('node:net')
  const server = await startRedis()
  const upstreamPort = Number(new URL(server.url).port)
  // A proxy that, while `hold` is set, keeps Redis's replies back until release().
  let hold = false
  const held = []
  const proxy = createServer((client) => {
    const up = connect({ port: upstreamPort, host: '127.0.0.1' })
    client.pipe(up)
    up.on('data', (chunk) => (hold ? held.push(() => client.write(chunk)) : client.write(chunk)))
    for (const socket of [client, up]) socket.on('error', () => (client.destroy(), up.destroy()))
  })
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => proxy.close())
  const store = await openStore(`redis://127.0.0.1:${proxy.address().port}`, { commandTimeoutMs: 500 })
  t.teardown(() => store.close())
  const handle = await useRustAuthState('bot', { store })
  t.teardown(() => handle.close())
  await handle.state.keys.set({ session: { a: { v: 'old' } } })
  hold = true
  await t.throwsAsync(handle.state.keys.set({ session: { a: { v: 'new' } } }), { code: ErrorCodes.STORE_UNAVAILABLE })
  hold = false
  for (const release of held.splice(0)) release()
  const direct = await openStore(server.url)
  t.teardown(() => direct.close())
  t.deepEqual(await direct.getKeys('bot', 'session', ['a']), { a: { v: 'new' } }, 'the write was applied')
  const read = await until(async () => {
    try {
      return await handle.state.keys.get('session', ['a'])
    } catch (err) {
      if (err.code === ErrorCodes.STORE_UNAVAILABLE) return null
      throw err
    }
  }, 'the handle to read again')
  t.deepEqual(read, { a: { v: 'new' } }, 'what the store holds, not what the cache had')
})

test('a fenced handle drops its cache and rejects every later call at once', async (t) => {
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  const first = await useRustAuthState('bot', { store: url })
  await first.state.keys.set({ session: { a: { n: 1 } } })
  t.is(first.stats().cache.entries, 1)
  const taker = await useRustAuthState('bot', { store: url, takeover: true })
  t.teardown(() => taker.close())
  await t.throwsAsync(first.state.keys.set({ session: { a: { n: 2 } } }), { code: ErrorCodes.SESSION_FENCED })
  t.is(first.stats().cache.entries, 0)
  t.true(first.stats().lease.lost)
  await t.throwsAsync(first.state.keys.get('session', ['a']), { code: ErrorCodes.SESSION_FENCED })
  await first.close()
})

test('reads of a store opened without useRustAuthState never use an owner cache', async (t) => {
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  const owner = await useRustAuthState('bot', { store: url })
  t.teardown(() => owner.close())
  await owner.state.keys.set({ session: { a: { n: 1 } } })
  const other = await openStore(url)
  t.teardown(() => other.close())
  const hitsBefore = owner.stats().cache.hits
  t.deepEqual(await other.getKeys('bot', 'session', ['a']), { a: { n: 1 } })
  t.is(owner.stats().cache.hits, hitsBefore)
})

// Redis restarted during a lease: with AOF the owner keeps writing; without persistence it is
// told it lost the session. Never both writing.

/** Polls a write until it settles other than ERR_STORE_UNAVAILABLE (the store reconnects by itself). */
async function writeOnceReachable(write) {
  return until(async () => {
    try {
      await write()
      return { ok: true }
    } catch (err) {
      if (err.code === ErrorCodes.STORE_UNAVAILABLE) return null
      return { err }
    }
  }, 'Redis to be reachable again')
}

test.serial('redis: restarted with AOF during a lease, the owner keeps the session and keeps writing', async (t) => {
  if (!requireRedis(t)) return
  const server = await startRedis({ unixSocket: true, appendonly: true, appendfsync: 'always' })
  const owner = await useRustAuthState('bot', { store: server.url })
  t.teardown(() => owner.close())
  let lost = false
  owner.lost.then(() => (lost = true))
  await owner.state.keys.set({ session: { a: { n: 1 } } })
  await server.restart()
  const after = await writeOnceReachable(() => owner.state.keys.set({ session: { a: { n: 2 } } }))
  t.true(after.ok, after.err?.message)
  t.false(lost)
  const other = await openStore(server.url)
  t.teardown(() => other.close())
  await t.throwsAsync(other.acquireLease('bot'), { code: ErrorCodes.SESSION_LOCKED })
  t.deepEqual(await other.getKeys('bot', 'session', ['a']), { a: { n: 2 } })
})

test.serial('redis: restarted without persistence during a lease, the owner is told it lost the session', async (t) => {
  if (!requireRedis(t)) return
  const server = await startRedis({ unixSocket: true })
  const owner = await useRustAuthState('bot', { store: server.url })
  t.teardown(() => owner.close())
  await owner.state.keys.set({ session: { a: { n: 1 } } })
  await server.restart()
  const after = await writeOnceReachable(() => owner.state.keys.set({ session: { a: { n: 2 } } }))
  t.is(after.err?.code, ErrorCodes.SESSION_FENCED)
  t.is((await owner.lost).code, ErrorCodes.SESSION_FENCED)
  const other = await openStore(server.url)
  t.teardown(() => other.close())
  t.deepEqual(await other.getKeys('bot', 'session', ['a']), { a: null }, 'nothing of the fenced write')
  const next = await other.acquireLease('bot')
  t.is(next.epoch, 1)
})

test.serial('redis: a lease that cannot be renewed (the server is stopped) is reported lost, and later calls are fenced', async (t) => {
  if (!requireRedis(t)) return
  const server = await startRedis({ unixSocket: true })
  const store = await openStore(server.url, { commandTimeoutMs: 1000 })
  t.teardown(() => store.close())
  const owner = await useRustAuthState('bot', { store, leaseMs: 1200 })
  await owner.state.keys.set({ session: { a: { n: 1 } } })
  server.kill('SIGSTOP')
  try {
    const err = await owner.lost
    t.is(err.code, ErrorCodes.SESSION_FENCED)
    t.regex(err.message, /could not be renewed/)
    await t.throwsAsync(owner.state.keys.get('session', ['a']), { code: ErrorCodes.SESSION_FENCED })
    await t.throwsAsync(owner.saveCreds(), { code: ErrorCodes.SESSION_FENCED })
  } finally {
    server.kill('SIGCONT')
  }
})

test('a write refused by a full disk leaves the owner cache as it was: reads return the old value', async (t) => {
  const { execFileSync } = await import('node:child_process')
  const { createRequire } = await import('node:module')
  const index = createRequire(import.meta.url).resolve('../index.js')
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  // A file-size limit (ulimit -f, in KiB) stands in for a full disk: writes past it fail.
  const script = `
    process.on('SIGXFSZ', () => {}) // get EFBIG instead of being killed
    const { useRustAuthState } = require(${JSON.stringify(index)})
    useRustAuthState('bot', { store: ${JSON.stringify(url)} }).then(async (auth) => {
      await auth.state.keys.set({ session: { a: { n: 1 } } })
      let code
      for (let i = 0; code === undefined; i++) {
        try {
          await auth.state.keys.set({ session: { ['fill' + i]: { blob: Buffer.alloc(20000, i % 256) } } })
        } catch (err) {
          code = err.code
        }
      }
      let second
      try {
        await auth.state.keys.set({ session: { a: { n: 2, pad: 'x'.repeat(50000) } } })
      } catch (err) {
        second = err.code
      }
      const read = await auth.state.keys.get('session', ['a'])
      console.log(JSON.stringify({ code, second, read, hits: auth.stats().cache.hits }))
      process.exit(0)
    })`
  const output = execFileSync('bash', ['-c', 'ulimit -f 1024; exec "$0" -e "$1"', process.execPath, script], { timeout: 120_000 })
  const { code, second, read, hits } = JSON.parse(output.toString().trim().split('\n').pop())
  t.is(code, ErrorCodes.STORE_IO)
  t.is(second, ErrorCodes.STORE_IO)
  t.deepEqual(read, { a: { n: 1 } })
  t.true(hits >= 1, 'answered from the cache')
  const store = await openStore(url)
  t.teardown(() => store.close())
  t.deepEqual(await store.getKeys('bot', 'session', ['a']), { a: { n: 1 } }, 'the store holds the same')
})
