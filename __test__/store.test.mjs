// The store's contract, as a Baileys application sees it through the public API.
import { existsSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'

import test from 'ava'

import * as esm from '../index.mjs'
import { ErrorCodes, isAuthStoreError, migrate, openStore, useRustAuthState } from '../index.mjs'
import { BACKENDS } from './helpers/backends.mjs'
import { stopAll } from './helpers/redis-server.mjs'
import { tempDb, tempDir } from './helpers/temp.mjs'
import { writeSchemaV1Fixture } from './helpers/schema-v1.mjs'

const baileys = await import('baileys')
const require = createRequire(import.meta.url)

test.after.always(stopAll)

const preKey = (n) => ({ public: Buffer.alloc(32, n), private: Buffer.alloc(32, n + 1) })

/** Rejects with the given code (and is an AuthStoreError). */
async function rejectsWith(t, promise, code) {
  const err = await t.throwsAsync(promise)
  t.is(err.code, code, err.message)
  t.true(isAuthStoreError(err))
  return err
}

for (const backend of BACKENDS) {
  test(`${backend.name}: a get issued after un-awaited sets sees the last of them`, async (t) => {
    const store = await openStore(await backend.url())
    const { state } = await useRustAuthState('order', { store, baileys })
    const writes = []
    for (let i = 0; i < 100; i++) writes.push(state.keys.set({ 'pre-key': { 1: preKey(i) } }))
    const read = state.keys.get('pre-key', ['1'])
    t.deepEqual((await read)['1'], preKey(99))
    await Promise.all(writes)
    await store.close()
  })

  test(`${backend.name}: sessions are isolated from each other`, async (t) => {
    const store = await openStore(await backend.url())
    const a = await useRustAuthState('a', { store, baileys })
    const b = await useRustAuthState('b', { store, baileys })
    await a.state.keys.set({ session: { 'x.0': { owner: 'a' } }, 'pre-key': { 1: preKey(1) } })
    await b.state.keys.set({ session: { 'x.0': { owner: 'b' } } })
    t.deepEqual(await a.state.keys.get('session', ['x.0']), { 'x.0': { owner: 'a' } })
    t.deepEqual(await b.state.keys.get('session', ['x.0']), { 'x.0': { owner: 'b' } })
    t.deepEqual(await b.state.keys.get('pre-key', ['1']), { 1: null })
    await a.state.keys.clear()
    t.deepEqual(await a.state.keys.get('session', ['x.0']), { 'x.0': null })
    t.deepEqual(await b.state.keys.get('session', ['x.0']), { 'x.0': { owner: 'b' } })
    await store.close()
  })

  test(`${backend.name}: sessions() lists sessions with creds or keys, and deleteSession removes exactly one`, async (t) => {
    const store = await openStore(await backend.url())
    t.deepEqual(await store.sessions(), [])
    const c = await useRustAuthState('c', { store, baileys })
    const a = await useRustAuthState('a', { store, baileys })
    const b = await useRustAuthState('b', { store, baileys })
    t.deepEqual(await store.sessions(), [], 'fresh creds are not saved until saveCreds')
    await c.saveCreds()
    await a.state.keys.set({ 'pre-key': { 1: preKey(1) } })
    await b.saveCreds()
    await b.state.keys.set({ 'pre-key': { 1: preKey(2) } })
    t.deepEqual(await store.sessions(), ['a', 'b', 'c'])

    // b is owned by its handle (on a store other processes can open): the store alone may not delete it.
    if (backend.persistent) await t.throwsAsync(store.deleteSession('b'), { code: ErrorCodes.SESSION_LOCKED })
    await b.close()
    await store.deleteSession('b')
    t.deepEqual(await store.sessions(), ['a', 'c'])
    t.is(await store.getCreds('b'), null)
    t.deepEqual(await store.getKeys('b', 'pre-key', ['1']), { 1: null })
    t.deepEqual(await store.getKeys('a', 'pre-key', ['1']), { 1: preKey(1) })
    await store.deleteSession('never-existed')
    await store.close()
  })

  test(`${backend.name}: every Baileys 7 key type and unknown types round-trip`, async (t) => {
    const store = await openStore(await backend.url())
    const { state } = await useRustAuthState('types', { store, baileys })
    const syncKey = baileys.proto.Message.AppStateSyncKeyData.fromObject({
      keyData: Buffer.alloc(32, 7),
      fingerprint: { rawId: 1, currentIndex: 2, deviceIndexes: [0, 1] },
      timestamp: 1700000000,
    })
    const data = {
      'pre-key': { 1: preKey(1) },
      session: { '15550000001.0': { _sessions: { 'BQ==': { registrationId: 7, closed: -1 } }, version: 'v1' } },
      'sender-key': { '1203@g.us::9000_1::0': Buffer.from('[{"senderKeyId":1}]') },
      'sender-key-memory': { '1203@g.us': { '9000_1:0@lid': true } },
      'app-state-sync-key': { 'AAAAAPbW/w==': syncKey },
      'app-state-sync-version': { regular: { version: 3, hash: Buffer.alloc(128, 1), indexValueMap: { 'a/b+c=': { valueMac: Buffer.alloc(32, 2) } } } },
      'lid-mapping': { 15550000001: '9000', '9000_reverse': '15550000001' },
      'device-list': { 15550000001: ['0', '12'] },
      tctoken: { '15550000001@s.whatsapp.net': { token: Buffer.from([1, 2]), timestamp: '1700000000' }, __index: { jids: ['x'] } },
      'identity-key': { '15550000001.0': new Uint8Array(33).fill(5) },
      'type-from-the-future': { 'any:id/with::odd@chars': { nested: [1, 'two', null, { three: Buffer.from('3') }] } },
    }
    await state.keys.set(data)
    for (const [type, byId] of Object.entries(data)) {
      const got = await state.keys.get(type, Object.keys(byId))
      if (type === 'app-state-sync-key') {
        const value = got['AAAAAPbW/w==']
        t.true(value instanceof baileys.proto.Message.AppStateSyncKeyData, 'revived as a protobuf message')
        t.deepEqual(Buffer.from(value.keyData), Buffer.alloc(32, 7))
        continue
      }
      // What Baileys' own file store returns: BufferJSON round trip.
      const expected = JSON.parse(JSON.stringify(byId, baileys.BufferJSON.replacer), baileys.BufferJSON.reviver)
      t.deepEqual(got, expected, type)
    }
    await store.close()
  })

  test(`${backend.name}: null and undefined delete, within one atomic batch`, async (t) => {
    const store = await openStore(await backend.url())
    const { state } = await useRustAuthState('del', { store, baileys })
    await state.keys.set({ 'pre-key': { 1: preKey(1), 2: preKey(2), 3: preKey(3) } })
    await state.keys.set({ 'pre-key': { 1: null, 2: undefined, 4: preKey(4) }, session: null })
    t.deepEqual(await state.keys.get('pre-key', ['1', '2', '3', '4']), { 1: null, 2: null, 3: preKey(3), 4: preKey(4) })
    await store.close()
  })

  test(`${backend.name}: of overlapping saveCreds calls, the latest state wins`, async (t) => {
    const store = await openStore(await backend.url())
    const { state, saveCreds } = await useRustAuthState('creds', { store, baileys })
    state.creds.me = { id: 'first@s.whatsapp.net' }
    const first = saveCreds()
    state.creds.me = { id: 'second@s.whatsapp.net', name: 'Second' }
    const second = saveCreds()
    await Promise.all([first, second])
    const reopened = await useRustAuthState('creds', { store, baileys })
    t.deepEqual(reopened.state.creds.me, { id: 'second@s.whatsapp.net', name: 'Second' })
    t.deepEqual(reopened.state.creds.signedIdentityKey, JSON.parse(JSON.stringify(state.creds.signedIdentityKey, baileys.BufferJSON.replacer), baileys.BufferJSON.reviver))
    await store.close()
  })

  test(`${backend.name}: a closed store rejects every call with ERR_STORE_CLOSED`, async (t) => {
    const store = await openStore(await backend.url())
    const { state, saveCreds } = await useRustAuthState('closed', { store, baileys })
    const pending = state.keys.set({ 'pre-key': { 1: preKey(1) } })
    await store.close()
    await t.notThrowsAsync(pending, 'work issued before close() finishes')
    t.true(store.closed)
    await rejectsWith(t, state.keys.get('pre-key', ['1']), ErrorCodes.STORE_CLOSED)
    await rejectsWith(t, state.keys.set({ 'pre-key': { 1: null } }), ErrorCodes.STORE_CLOSED)
    await rejectsWith(t, state.keys.clear(), ErrorCodes.STORE_CLOSED)
    await rejectsWith(t, saveCreds(), ErrorCodes.STORE_CLOSED)
    await rejectsWith(t, store.sessions(), ErrorCodes.STORE_CLOSED)
    await rejectsWith(t, store.deleteSession('closed'), ErrorCodes.STORE_CLOSED)
    await rejectsWith(t, useRustAuthState('closed', { store, baileys }), ErrorCodes.STORE_CLOSED)
    await t.notThrowsAsync(store.close(), 'closing twice is harmless')
  })
}

test('a SQLite store keeps everything across close and reopen', async (t) => {
  const { url } = tempDb()
  let store = await openStore(url)
  const first = await useRustAuthState('s', { store, baileys })
  await first.saveCreds()
  await first.state.keys.set({ session: { 'a.0': { v: 1 } } })
  await store.close()
  store = await openStore(url)
  const again = await useRustAuthState('s', { store, baileys })
  t.deepEqual(Buffer.from(again.state.creds.noiseKey.private), Buffer.from(first.state.creds.noiseKey.private))
  t.deepEqual(await again.state.keys.get('session', ['a.0']), { 'a.0': { v: 1 } })
  await store.close()
})

test('database files are readable by their owner only', async (t) => {
  const { path, url } = tempDb()
  const store = await openStore(url)
  await store.setCreds('s', { secret: Buffer.alloc(32, 1) })
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    t.true(existsSync(file), file)
    t.is(statSync(file).mode & 0o777, 0o600, file)
  }
  await store.close()
})

test('a database written by a newer version is refused and left untouched', async (t) => {
  const { path, url } = tempDb()
  const store = await openStore(url)
  await store.setCreds('s', { a: 1 })
  await store.close()
  // PRAGMA user_version lives at byte 60 of the SQLite header, big-endian.
  const file = readFileSync(path)
  const current = file.readUInt32BE(60)
  t.true(current >= 1)
  file.writeUInt32BE(current + 1, 60)
  writeFileSync(path, file)
  const err = await rejectsWith(t, openStore(url), ErrorCodes.STORE_VERSION)
  t.regex(err.message, /upgrade/)
  t.deepEqual(readFileSync(path), file, 'not one byte changed')
  t.false(existsSync(`${path}-wal`), 'no journal created')
})

test('a file that is not a store is refused with ERR_STORE_CORRUPT', async (t) => {
  const { path, url } = tempDb()
  writeFileSync(path, Buffer.alloc(8192, 0x42))
  await rejectsWith(t, openStore(url), ErrorCodes.STORE_CORRUPT)
})

test('saved creds that cannot be read are an error, never a fresh identity', async (t) => {
  const { path, url } = tempDb()
  let store = await openStore(url)
  const marker = 'CREDS-END-MARKER'
  await store.setCreds('s', { registrationId: 1, zzz: marker })
  await store.close()
  // Damage the stored value: the marker is its last string; make its length run past the end.
  const file = readFileSync(path)
  const at = file.indexOf(marker)
  t.true(at > 0)
  t.is(file[at - 1], marker.length)
  file[at - 1] = 0x7f
  writeFileSync(path, file)
  store = await openStore(url)
  await rejectsWith(t, useRustAuthState('s', { store, baileys }), ErrorCodes.STORE_CORRUPT)
  await rejectsWith(t, store.getCreds('s'), ErrorCodes.STORE_CORRUPT)
  await store.close()
})

test('a store in a missing directory fails with ERR_STORE_IO', async (t) => {
  await rejectsWith(t, openStore(`sqlite:${join(tempDir(), 'missing', 'auth.db')}`), ErrorCodes.STORE_IO)
})

test('bad URLs and options are rejected with ERR_INVALID_ARG', async (t) => {
  await rejectsWith(t, openStore(''), ErrorCodes.INVALID_ARG)
  await rejectsWith(t, openStore(42), ErrorCodes.INVALID_ARG)
  await rejectsWith(t, openStore('ftp://localhost/db'), ErrorCodes.INVALID_ARG)
  await rejectsWith(t, openStore('postgres://localhost/db', { schema: 'a-b' }), ErrorCodes.INVALID_ARG)
  await rejectsWith(t, openStore('postgres://localhost/db', { tablePrefix: 'a' }), ErrorCodes.INVALID_ARG)
  await rejectsWith(t, openStore('mysql://localhost/db', { poolSize: 0 }), ErrorCodes.INVALID_ARG)
  await rejectsWith(t, openStore('sqlite::memory:', { poolSize: 2 }), ErrorCodes.INVALID_ARG)
  await rejectsWith(t, openStore('memory:', { schema: 'x' }), ErrorCodes.INVALID_ARG)
  await rejectsWith(t, openStore('sqlite:'), ErrorCodes.INVALID_ARG)
  await rejectsWith(t, useRustAuthState('s', { store: 42 }), ErrorCodes.INVALID_ARG)
  await rejectsWith(t, useRustAuthState('s', { store: 'memory:', baileys: {} }), ErrorCodes.INVALID_ARG)
  await rejectsWith(t, useRustAuthState(''), ErrorCodes.INVALID_ARG)
  await rejectsWith(t, useRustAuthState(undefined), ErrorCodes.INVALID_ARG)
})

test('useRustAuthState shares one store per URL, openStore opens a new one each time', async (t) => {
  const { url, path } = tempDb()
  const a = await useRustAuthState('a', { store: url, baileys })
  const b = await useRustAuthState('b', { store: `sqlite://${path}`, baileys })
  t.is(a.store, b.store)
  const separate = await openStore(url)
  t.not(separate, a.store)
  await separate.close()
  await a.store.close()
  const c = await useRustAuthState('c', { store: url, baileys })
  t.not(c.store, a.store, 'a closed shared store is replaced by a new one')
  t.false(c.store.closed)
  await c.store.close()
})

test.serial('the default store comes from BAILEYS_AUTH_STORE', async (t) => {
  const { url } = tempDb('from-env.db')
  process.env.BAILEYS_AUTH_STORE = url
  try {
    const { store, saveCreds } = await useRustAuthState('env', { baileys })
    t.is(store.url, url)
    await saveCreds()
    await store.close()
  } finally {
    delete process.env.BAILEYS_AUTH_STORE
  }
})

test('Baileys is found without options.baileys', async (t) => {
  const { state, store } = await useRustAuthState('auto', { store: 'memory:' })
  t.is(typeof state.creds.registrationId, 'number')
  await store.close()
})

test('CommonJS and ES module entries export the same API', (t) => {
  const cjs = require('../index.js')
  for (const name of ['useRustAuthState', 'openStore', 'AuthStore', 'importFolder', 'exportFolder', 'migrate', 'ErrorCodes', 'isAuthStoreError']) {
    t.is(esm[name], cjs[name], name)
  }
  t.deepEqual(Object.values(cjs.ErrorCodes).sort(), [
    'ERR_INVALID_ARG', 'ERR_NATIVE_BINDING', 'ERR_SESSION_FENCED', 'ERR_SESSION_LOCKED', 'ERR_STORE_CLOSED', 'ERR_STORE_CORRUPT',
    'ERR_STORE_IO', 'ERR_STORE_KEY', 'ERR_STORE_NOT_FOUND', 'ERR_STORE_UNAVAILABLE', 'ERR_STORE_VERSION', 'ERR_UNSUPPORTED', 'ERR_VERIFY_FAILED',
  ])
  t.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).filter((k) => k !== 'default').sort())
  t.false(isAuthStoreError(new Error('plain')))
})

test('keys and ids named __proto__ are data, as with JSON.parse', async (t) => {
  const store = await openStore('memory:')
  const value = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}')
  await store.setKeys('s', { session: { __proto__: null, ['__proto__']: value } })
  const got = await store.getKeys('s', 'session', ['__proto__'])
  t.true(Object.hasOwn(got, '__proto__'))
  t.deepEqual(Object.keys(got.__proto__), ['__proto__', 'x'])
  t.is(Object.getPrototypeOf(got.__proto__), Object.prototype)
  t.is({}.polluted, undefined)
  await store.close()
})

test('promises settle in the order their calls were issued', async (t) => {
  const store = await openStore(tempDb().url)
  const settled = []
  const calls = []
  for (let i = 0; i < 3000; i++) {
    const call = i % 3 === 0 ? store.getKeys('s', 'pre-key', [String(i - 1)]) : store.setKeys('s', { 'pre-key': { [i]: preKey(i % 200) } })
    calls.push(call.then(() => settled.push(i)))
  }
  await Promise.all(calls)
  t.deepEqual(settled, [...settled].sort((a, b) => a - b))
  await store.close()
})

test('an open store lets the process exit once its pending writes are done', async (t) => {
  const { url } = tempDb()
  const script = `
    const { openStore } = require(${JSON.stringify(require.resolve('../index.js'))})
    openStore(${JSON.stringify(url)}).then((store) => {
      // Not awaited and never closed: the write must still complete before exit.
      store.setKeys('s', { 'pre-key': { 1: { public: Buffer.alloc(32, 9) } } })
    })`
  const { execFileSync } = await import('node:child_process')
  execFileSync(process.execPath, ['-e', script], { timeout: 20_000 })
  const store = await openStore(url)
  t.deepEqual(await store.getKeys('s', 'pre-key', ['1']), { 1: { public: Buffer.alloc(32, 9) } })
  await store.close()
})

test('a process exits cleanly with stores closed, unclosed and garbage-collected', async (t) => {
  const { execFileSync } = await import('node:child_process')
  const dir = tempDir()
  const script = `
    const { openStore } = require(${JSON.stringify(require.resolve('../index.js'))})
    async function use(url, close) {
      const store = await openStore(url)
      await store.setKeys('a', { session: { x: { v: 1 } } })
      await store.getKeys('a', 'session', ['x'])
      if (close) await store.close()
    }
    const urls = ['memory:', 'sqlite::memory:', ${JSON.stringify(`sqlite:${dir}/a.db`)}, ${JSON.stringify(`sqlite:${dir}/b.db`)}]
    Promise.all(urls.flatMap((url, i) => [use(url, true), use(url, i % 2 === 0)]))`
  // Shutdown races with Node's own teardown of thread-safe functions: try it several times.
  for (let run = 0; run < 8; run++) {
    t.notThrows(() => execFileSync(process.execPath, ['-e', script], { timeout: 20_000, stdio: 'pipe' }), `run ${run}`)
  }
})

test('values in the shapes Baileys 6.7 wrote are stored as Buffers', async (t) => {
  const store = await openStore('memory:')
  await store.setKeys('s', {
    'pre-key': {
      1: { public: { type: 'Buffer', data: [1, 2, 3] }, private: { type: 'Buffer', data: 'AQID' } },
      2: { public: { buffer: true, value: 'AQID' }, private: { 0: 1, 1: 2, 2: 3 } },
    },
  })
  const bytes = Buffer.from([1, 2, 3])
  t.deepEqual(await store.getKeys('s', 'pre-key', ['1', '2']), {
    1: { public: bytes, private: bytes },
    2: { public: bytes, private: bytes },
  })
  await store.close()
})

test('a full disk rejects the write with ERR_STORE_IO and loses nothing acknowledged', async (t) => {
  const { execFileSync } = await import('node:child_process')
  const { url } = tempDb()
  // A file-size limit (ulimit -f, in KiB) stands in for a full disk: writes past it fail.
  const script = `
    process.on('SIGXFSZ', () => {}) // get EFBIG instead of being killed
    const { openStore } = require(${JSON.stringify(require.resolve('../index.js'))})
    openStore(${JSON.stringify(url)}).then(async (store) => {
      let acked = -1
      for (let i = 0; ; i++) {
        try {
          await store.setKeys('s', { session: { ['k' + i]: { blob: Buffer.alloc(20000, i % 256), i } } })
          acked = i
        } catch (err) {
          console.log(JSON.stringify({ acked, code: err.code }))
          // The store still answers reads after a failed write.
          const read = await store.getKeys('s', 'session', ['k' + acked])
          if (read['k' + acked].i !== acked) throw new Error('read after failure')
          return store.close()
        }
      }
    })`
  const output = execFileSync('bash', ['-c', 'ulimit -f 1024; exec "$0" -e "$1"', process.execPath, script], {
    timeout: 60_000,
  })
  const { acked, code } = JSON.parse(output.toString().trim().split('\n').pop())
  t.is(code, ErrorCodes.STORE_IO)
  t.true(acked > 10, `${acked} writes fit before the limit`)
  const store = await openStore(url)
  const ids = Array.from({ length: acked + 2 }, (_, i) => `k${i}`)
  const got = await store.getKeys('s', 'session', ids)
  for (let i = 0; i <= acked; i++) t.is(got[`k${i}`]?.i, i, `acknowledged write ${i}`)
  t.is(got[`k${acked + 1}`], null, 'the failed write left nothing')
  t.deepEqual(await store.check(), [])
  await store.close()
})

for (const backend of BACKENDS) {
  test(`${backend.name}: stats count keys and bytes per type, and the last write`, async (t) => {
    const store = await openStore(await backend.url())
    t.deepEqual(await store.stats('nobody'), {
      session: 'nobody', credsPresent: false, credsBytes: 0, keys: {}, totalKeys: 0, totalBytes: 0, lastWriteAt: null, owner: null,
    })
    const before = Date.now()
    await store.setCreds('s', { me: { id: '1@s.whatsapp.net' } })
    await store.setKeys('s', { 'pre-key': { 1: preKey(1), 2: preKey(2) }, session: { 'a.0': { v: 'x'.repeat(100) } } })
    const stats = await store.stats('s')
    const listed = await store.listKeys('s')
    t.deepEqual(listed.map((k) => [k.type, k.id]), [['pre-key', '1'], ['pre-key', '2'], ['session', 'a.0']])
    t.is(stats.keys['pre-key'].count, 2)
    t.is(stats.keys['pre-key'].bytes, listed[0].bytes + listed[1].bytes)
    t.is(stats.keys.session.bytes, listed[2].bytes)
    t.true(listed[2].bytes > 100)
    t.is(stats.totalKeys, 3)
    t.true(stats.credsPresent)
    t.is(stats.totalBytes, stats.credsBytes + listed.reduce((n, k) => n + k.bytes, 0))
    t.true(stats.lastWriteAt instanceof Date)
    t.true(stats.lastWriteAt.getTime() >= before - 1000 && stats.lastWriteAt.getTime() <= Date.now(), String(stats.lastWriteAt))

    await store.deleteSession('s')
    t.is((await store.stats('s')).lastWriteAt, null)
    await store.close()
  })
}

test('backup copies exactly the writes issued before it, while writes keep coming', async (t) => {
  const { url } = tempDb()
  const store = await openStore(url)
  await store.setCreds('s', { me: { id: '1@s.whatsapp.net' } })
  const file = join(tempDir(), 'backup.db')
  const writes = []
  let backup
  for (let i = 0; i < 400; i++) {
    writes.push(store.setKeys('s', { 'pre-key': { [i]: preKey(i % 200) } }))
    if (i === 199) backup = store.backup(file)
  }
  await Promise.all([...writes, backup])
  t.is(statSync(file).mode & 0o777, 0o600)

  const copy = await openStore(`sqlite:${file}`)
  t.deepEqual(await copy.check(), [])
  // Calls apply in issue order, so the copy holds the first 200 batches and none of the rest.
  t.deepEqual((await copy.listKeys('s')).map((k) => Number(k.id)).sort((a, b) => a - b), [...Array(200).keys()])
  t.deepEqual(await copy.getCreds('s'), await store.getCreds('s'))
  await copy.close()

  // Again over the same file: replaced by a complete new copy.
  await store.backup(file)
  const again = await openStore(`sqlite:${file}`)
  t.is((await again.listKeys('s')).length, 400)
  await again.close()
  await store.close()
})

test('backup is refused where it cannot work', async (t) => {
  const memory = await openStore('memory:')
  await t.throwsAsync(memory.backup(join(tempDir(), 'x.db')), { code: ErrorCodes.UNSUPPORTED })
  await memory.close()
  const { url, path } = tempDb()
  const store = await openStore(url)
  await t.throwsAsync(store.backup(''), { code: ErrorCodes.INVALID_ARG })
  await t.throwsAsync(store.backup(path), { code: ErrorCodes.INVALID_ARG }, 'not over the live database')
  await t.throwsAsync(store.backup(join(tempDir(), 'missing', 'x.db')), { code: ErrorCodes.STORE_IO })
  await store.close()
})

for (const backend of BACKENDS) {
  test(`${backend.name}: keys.get answers for the ids as they were when it was called`, async (t) => {
    const store = await openStore(await backend.url())
    const { state } = await useRustAuthState('s', { store, baileys })
    await state.keys.set({ session: { a: { n: 1 }, b: { n: 2 } } })
    const ids = ['a', 'b']
    const read = state.keys.get('session', ids)
    ids.length = 0
    ids.push('x', 'y', 'z') // the caller reuses its array before the read finishes
    t.deepEqual(await read, { a: { n: 1 }, b: { n: 2 } })
    const direct = ['b']
    const again = store.getKeys('s', 'session', direct)
    direct[0] = 'a'
    t.deepEqual(await again, { b: { n: 2 } })
    await store.close()
  })

  test(`${backend.name}: keys.set refuses an empty key type, which keys.get could never read, and writes nothing`, async (t) => {
    const store = await openStore(await backend.url())
    await rejectsWith(t, store.setKeys('s', { '': { a: 1 }, session: { b: 2 } }), ErrorCodes.INVALID_ARG)
    t.deepEqual(await store.listKeys('s'), [])
    await rejectsWith(t, store.getKeys('s', '', ['a']), ErrorCodes.INVALID_ARG)
    await store.setKeys('s', { '': null, session: { b: 2 } }) // nothing to store under '': no write
    t.deepEqual(await store.getKeys('s', 'session', ['b']), { b: 2 })
    await store.close()
  })

  test(`${backend.name}: stats count a key type named __proto__ like any other`, async (t) => {
    const store = await openStore(await backend.url())
    await store.setKeys('s', { ['__proto__']: { a: 1, b: 2 }, session: { c: 3 } })
    const stats = await store.stats('s')
    t.deepEqual(Object.keys(stats.keys), ['__proto__', 'session'])
    t.true(Object.hasOwn(stats.keys, '__proto__'))
    t.is(stats.keys['__proto__'].count, 2)
    t.is(Object.getPrototypeOf(stats.keys), Object.prototype)
    t.is(stats.totalKeys, 3)
    await store.close()
  })
}

test('closing one session of a shared store leaves the others working; the store closes with the last', async (t) => {
  const { url } = tempDb()
  const a = await useRustAuthState('a', { store: url, baileys })
  const b = await useRustAuthState('b', { store: url, baileys })
  t.is(a.store, b.store)
  await a.saveCreds()
  await b.saveCreds()
  await a.state.keys.set({ session: { x: { n: 1 } } })

  await a.close()
  t.false(b.store.closed, 'b still uses the store')
  await rejectsWith(t, a.state.keys.get('session', ['x']), ErrorCodes.STORE_CLOSED)
  await rejectsWith(t, a.state.keys.set({ session: { x: null } }), ErrorCodes.STORE_CLOSED)
  await rejectsWith(t, a.saveCreds(), ErrorCodes.STORE_CLOSED)
  await b.state.keys.set({ session: { y: { n: 2 } } })
  t.deepEqual(await b.state.keys.get('session', ['y']), { y: { n: 2 } })
  await a.close() // again: harmless

  await b.close()
  t.true(b.store.closed, 'the last session closed the store')
  const reopened = await useRustAuthState('a', { store: url, baileys })
  t.not(reopened.store, a.store, 'a new session opens it again')
  t.deepEqual(await reopened.state.keys.get('session', ['x']), { x: { n: 1 } })
  await reopened.close()

  // A store passed in belongs to the caller: releasing a session leaves it open.
  const own = await openStore(url)
  const c = await useRustAuthState('c', { store: own, baileys })
  await c.close()
  t.false(own.closed)
  await own.close()
})

test('useRustAuthState shares one store for one file, whatever path names it', async (t) => {
  const dir = tempDir()
  const real = join(dir, 'auth.db')
  const a = await useRustAuthState('a', { store: `sqlite:${real}`, baileys })
  symlinkSync(real, join(dir, 'link.db'))
  const b = await useRustAuthState('b', { store: join(dir, 'link.db'), baileys })
  const c = await useRustAuthState('c', { store: relative(process.cwd(), real), baileys })
  t.is(b.store, a.store)
  t.is(c.store, a.store)
  await Promise.all([a.close(), b.close(), c.close()])
  t.true(a.store.closed)
})

test('migrate refuses to copy a store onto itself under another name, and the store keeps everything', async (t) => {
  const dir = tempDir()
  const path = join(dir, 'auth.db')
  const store = await openStore(`sqlite:${path}`)
  await store.setCreds('s', { registrationId: 7 })
  await store.setKeys('s', { session: { a: { n: 1 } }, 'pre-key': { 1: preKey(1) } })
  await store.close()
  symlinkSync(path, join(dir, 'link.db'))
  for (const [from, to] of [
    [path, `sqlite://${path}`],
    [`sqlite:${path}`, `sqlite:${join(dir, 'link.db')}`],
    [relative(process.cwd(), path), `sqlite:///${path.replace(/^\//, '')}`],
  ]) {
    await rejectsWith(t, migrate({ from, to, overwrite: true }), ErrorCodes.INVALID_ARG)
  }
  const after = await openStore(`sqlite:${path}`)
  t.deepEqual((await after.listKeys('s')).map((k) => k.id), ['1', 'a'])
  t.deepEqual(await after.getCreds('s'), { registrationId: 7 })
  await after.close()
})

test('a write after the database file was deleted or replaced rejects with ERR_STORE_IO', async (t) => {
  const { path, url } = tempDb()
  const store = await openStore(url)
  await store.setCreds('s', { registrationId: 1 })
  rmSync(path)
  const err = await rejectsWith(t, store.setKeys('s', { session: { a: 1 } }), ErrorCodes.STORE_IO)
  t.regex(err.message, /deleted or replaced/)
  await rejectsWith(t, store.setCreds('s', { registrationId: 2 }), ErrorCodes.STORE_IO)
  await store.close()

  const other = tempDb()
  const replaced = await openStore(other.url)
  await replaced.setKeys('s', { session: { kept: 1 } })
  const newer = tempDb()
  await (await openStore(newer.url)).close()
  renameSync(newer.path, other.path) // a restore moved another file into place
  await rejectsWith(t, replaced.setKeys('s', { session: { lost: 1 } }), ErrorCodes.STORE_IO)
  await replaced.close()
  const reopened = await openStore(other.url)
  t.deepEqual(await reopened.getKeys('s', 'session', ['lost']), { lost: null }, 'the write was not acknowledged, and is not there')
  await reopened.close()
})

test("backup refuses to replace a live database's files: its own -wal, another open store, another store's -wal", async (t) => {
  const dir = tempDir()
  const [pathA, pathB] = [join(dir, 'a.db'), join(dir, 'b.db')]
  const a = await openStore(`sqlite:${pathA}`)
  await a.setKeys('s', { session: { x: { n: 1 } } })
  const b = await openStore(`sqlite:${pathB}`)
  await b.setCreds('o', { registrationId: 2 })
  for (const dest of [`${pathA}-wal`, `${pathA}-shm`, pathB, `${pathB}-wal`]) {
    await t.throwsAsync(a.backup(dest), { code: ErrorCodes.INVALID_ARG }, dest)
  }
  await Promise.all([a.close(), b.close()])
  const [a2, b2] = await Promise.all([openStore(`sqlite:${pathA}`), openStore(`sqlite:${pathB}`)])
  t.deepEqual(await a2.getKeys('s', 'session', ['x']), { x: { n: 1 } })
  t.deepEqual(await b2.getCreds('o'), { registrationId: 2 })
  t.deepEqual(await a2.check(), [])
  t.deepEqual(await b2.check(), [])
  await Promise.all([a2.close(), b2.close()])
})

test('openStore with create: false refuses a missing file and creates nothing', async (t) => {
  const { path, url } = tempDb()
  await rejectsWith(t, openStore(url, { create: false }), ErrorCodes.STORE_NOT_FOUND)
  t.false(existsSync(path))
  await (await openStore(url)).close()
  const store = await openStore(url, { create: false })
  t.deepEqual(await store.sessions(), [])
  await store.close()
  await rejectsWith(t, openStore(url, { create: 'no' }), ErrorCodes.INVALID_ARG)
})

test('an unknown URL scheme is an error, never a file of that name', async (t) => {
  const name = `sqlite3:typo-${process.pid}.db`
  t.teardown(() => rmSync(name, { force: true }))
  const err = await rejectsWith(t, openStore(name), ErrorCodes.INVALID_ARG)
  t.regex(err.message, /unknown store URL scheme "sqlite3"/)
  await rejectsWith(t, useRustAuthState('s', { store: `redis:localhost-${process.pid}`, baileys }), ErrorCodes.INVALID_ARG)
  t.false(existsSync(name))
  t.false(existsSync(`redis:localhost-${process.pid}`))
})

/** Damages the UTF-8 of the é after `marker` in a closed SQLite file (C3 A9 becomes C3 28), everywhere the file holds it (a key's row and its index entry). */
function breakUtf8(path, marker) {
  const file = readFileSync(path)
  const broken = Buffer.from(`${marker}é`)
  let found = 0
  for (let at = file.indexOf(broken); at >= 0; at = file.indexOf(broken, at + 1), found++) file[at + broken.length - 1] = 0x28
  if (found === 0) throw new Error(`${marker} is not in the file`)
  writeFileSync(path, file)
}

test('a stored string that is not valid UTF-8 is ERR_STORE_CORRUPT, never U+FFFD', async (t) => {
  const { path, url } = tempDb()
  let store = await openStore(url)
  await store.setCreds('s', { me: { name: 'CREDS-MARK-é' } })
  await store.setKeys('s', { session: { a: { name: 'VALUE-MARK-é' } }, 'sender-key-memory': { 'ID-MARK-é': { x: true } } })
  await store.close()
  for (const marker of ['CREDS-MARK-', 'VALUE-MARK-', 'ID-MARK-']) breakUtf8(path, marker)
  store = await openStore(url)
  await rejectsWith(t, store.getCreds('s'), ErrorCodes.STORE_CORRUPT)
  await rejectsWith(t, useRustAuthState('s', { store, baileys }), ErrorCodes.STORE_CORRUPT)
  await rejectsWith(t, store.getKeys('s', 'session', ['a']), ErrorCodes.STORE_CORRUPT)
  await rejectsWith(t, store.listKeys('s'), ErrorCodes.STORE_CORRUPT)
  // A real U+FFFD is a character like any other.
  await store.setKeys('s', { session: { b: 'replacement \uFFFD kept' } })
  t.deepEqual(await store.getKeys('s', 'session', ['b']), { b: 'replacement \uFFFD kept' })
  await store.close()
})

test('a new session never inherits the keys of a session deleted without foreign keys (schema upgrade)', async (t) => {
  // Written by version 1 of the schema; the sqlite3 shell then deleted the newest session
  // ("deleted") with foreign keys off, leaving its keys behind.
  const { path, url } = tempDb()
  if (!writeSchemaV1Fixture(t, path)) return t.pass()
  const store = await openStore(url)
  t.deepEqual(await store.sessions(), ['alice', 'bob'])
  await store.setCreds('carol', { registrationId: 3 })
  t.deepEqual(await store.listKeys('carol'), [])
  t.deepEqual(await store.getKeys('carol', 'session', ['victim.0']), { 'victim.0': null })
  t.deepEqual(await store.getKeys('alice', 'lid-mapping', ['999']), { 999: '888@lid' }, 'the upgrade kept the other sessions')
  t.deepEqual(await store.check(), [])
  await store.close()
})

test('keys.get refuses a sparse array of ids at once, however long', async (t) => {
  const store = await openStore('memory:')
  const ids = []
  ids.length = 2 ** 32 - 1 // holes only: copying it would take the heap
  await rejectsWith(t, store.getKeys('s', 'session', ids), ErrorCodes.INVALID_ARG)
  const { state } = await useRustAuthState('s', { store, baileys })
  await rejectsWith(t, state.keys.get('session', ['a', , 'b']), ErrorCodes.INVALID_ARG) // eslint-disable-line no-sparse-arrays
  await store.close()
})
