// review15: a hostile review of `rekey` (lib/rekey.js, CipherControl in
// src/core/layers/cipher.rs). Each test attacks one claim of docs/encryption.md ("Rotation"):
// no acknowledged write is lost or becomes unreadable whatever runs concurrently, a killed
// rekey resumes, hostile input is refused with its code, and no secret is ever printed.
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import test from 'ava'

import { ErrorCodes, openStore, rekey, useRustAuthState } from '../index.mjs'
import codec from '../lib/codec.js'
import storeModule from '../lib/store.js'
import { cli } from './helpers/cli.mjs'
import { requireRedis } from './helpers/redis-server.mjs'
import { tempDb, tempDir } from './helpers/temp.mjs'
import { until } from './helpers/until.mjs'

const CHILD = fileURLToPath(new URL('./fixtures/review15-rekey-child.mjs', import.meta.url))
const OWNER = fileURLToPath(new URL('./fixtures/review15-owner.mjs', import.meta.url))
const REDIS = 'redis://127.0.0.1:6379'
const { nativeOf } = storeModule
const newKey = () => randomBytes(32).toString('hex')

/** A child process whose stdout lines are collected; killed (SIGKILL) at the test's end. */
function start(t, script, args) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const run = { child, lines: [], stderr: '', exited: false }
  let rest = ''
  child.stdout.on('data', (chunk) => {
    rest += chunk
    const parts = rest.split('\n')
    rest = parts.pop()
    run.lines.push(...parts)
  })
  child.stderr.on('data', (chunk) => {
    run.stderr += chunk
  })
  run.exit = new Promise((resolve) => child.on('exit', () => resolve((run.exited = true))))
  run.kill = async () => {
    if (!run.exited) child.kill('SIGKILL')
    await run.exit
  }
  run.waitFor = (re, what, ms = 120000) =>
    until(() => run.lines.find((l) => re.test(l)) ?? (run.exited && Promise.reject(new Error(`${what}: the child ended: ${run.lines.join('|')} ${run.stderr}`))), what, ms)
  t.teardown(run.kill)
  return run
}

/** Sessions with creds and pre-keys, as in rekey.test.mjs; returns what they hold. */
async function fill(store, sessions, keysEach, prefix = 'session-') {
  const expected = new Map()
  for (let s = 0; s < sessions; s++) {
    const session = `${prefix}${s}`
    const creds = { me: { id: `49155500${s}:1@s.whatsapp.net` }, n: s }
    await store.setCreds(session, creds)
    const batch = { 'pre-key': {} }
    for (let i = 0; i < keysEach; i++) batch['pre-key'][String(i)] = { value: Buffer.from(`pre-key ${s}.${i}`) }
    await store.setKeys(session, batch)
    expected.set(session, { creds, batch })
  }
  return expected
}

async function readsAll(t, store, expected) {
  for (const [session, { creds, batch }] of expected) {
    t.deepEqual(await store.getCreds(session), creds, session)
    for (const [type, values] of Object.entries(batch)) t.deepEqual(await store.getKeys(session, type, Object.keys(values)), values, `${session} ${type}`)
  }
}

const openWith = (url, encryption, more = {}) => openStore(url, { ...more, create: false, encryption })
async function refused(t, url, encryption, more = {}) {
  const err = await t.throwsAsync(openWith(url, encryption, more))
  t.is(err?.code, ErrorCodes.STORE_KEY)
}

/** A random Redis key prefix, its keys deleted at the test's end. */
function redisPrefix(t) {
  const prefix = `review15-${randomBytes(6).toString('hex')}`
  t.teardown(() => {
    const keys = execFileSync('redis-cli', ['-p', '6379', '--scan', '--pattern', `${prefix}:*`], { encoding: 'utf8' }).split('\n').filter(Boolean)
    for (let i = 0; i < keys.length; i += 500) execFileSync('redis-cli', ['-p', '6379', 'DEL', ...keys.slice(i, i + 500)])
  })
  return prefix
}

// ---------------------------------------------------------------------------------------
// Concurrent processes

test.serial('a process that opens the store while the rekey begins reads what the rekey re-sealed (passphrase store)', async (t) => {
  // Sealed::open unlocks the record it read first, then reads the record again and keeps that
  // one: a rekey that begins in between (an Argon2 unlock of about a quarter of a second) leaves
  // the handle with the old keys and the new record, so refresh() never takes up the new value key.
  const passphrase = `pass ${randomBytes(8).toString('hex')}`
  const failures = []
  for (let round = 0; round < 2 && failures.length === 0; round++) {
    const { url } = tempDb()
    const store = await openStore(url, { encryption: { passphrase } })
    const expected = await fill(store, 2, 20)
    await store.close()
    const child = start(t, CHILD, [url, JSON.stringify({ passphrase }), JSON.stringify({ key: newKey() }), '1'])
    const opened = []
    let frozen = false
    const opener = async () => {
      while (!frozen) opened.push(await openWith(url, { passphrase }))
    }
    const openers = [opener(), opener()]
    await child.waitFor(/^done 1 stale 0/, 'the rekey re-sealed session-0')
    frozen = true
    await Promise.all(openers)
    // session-0 is sealed under the new value key now; every handle must read it.
    for (const handle of opened) {
      try {
        t.deepEqual(await handle.getCreds('session-0'), expected.get('session-0').creds)
      } catch (err) {
        failures.push(`${err.code}: ${err.message}`)
      }
      await handle.close()
    }
    t.log(`round ${round}: ${opened.length} handles opened around the rekey's begin`)
    await child.kill()
  }
  t.deepEqual(failures, [], 'a handle opened during the begin cannot read what the rekey re-sealed')
})

test.serial('a handle opened with the old key before the rekey and idle through it is told to restart with the new key, never misreads', async (t) => {
  // docs/encryption.md, "Rotation": a process that neither read, wrote nor renewed a lease while
  // the rekey ran never learnt the new value key, and its old key no longer opens the record.
  const { url } = tempDb()
  const [a, b] = [newKey(), newKey()]
  const store = await openStore(url, { encryption: { key: a } })
  const expected = await fill(store, 2, 10)
  await store.close()
  const before = await openWith(url, { key: a })
  t.teardown(() => before.close())
  t.like(await rekey({ store: url, from: { key: a }, to: { key: b } }), { finished: true })
  const err = await t.throwsAsync(before.getCreds('session-0'))
  t.is(err.code, 'ERR_STORE_KEY')
  t.regex(err.message, /restart with the new key/)
  const reopened = await openWith(url, { key: b })
  await readsAll(t, reopened, expected)
  await reopened.close()
})

test.serial('a second rekey to another key while one runs is refused, and processes on the first new key keep working', async (t) => {
  const { url } = tempDb()
  const [a, b, c] = [newKey(), newKey(), newKey()]
  const store = await openStore(url, { encryption: { key: a } })
  const expected = await fill(store, 3, 20)
  await store.close()
  // Rekey a -> b, frozen after one session; an application deployed with b starts meanwhile.
  const first = start(t, CHILD, [url, JSON.stringify({ key: a }), JSON.stringify({ key: b }), '1'])
  await first.waitFor(/^done 1/, 'the first rekey is under way')
  const appB = await openWith(url, { key: b })
  t.teardown(() => appB.close())
  await readsAll(t, appB, expected)
  // Another operator starts a rekey a -> c.
  const second = await rekey({ store: url, from: { key: a }, to: { key: c } }).then(
    (result) => ({ result }),
    (err) => ({ err }),
  )
  t.log(second.err ? `second rekey: ${second.err.code} ${second.err.message}` : `second rekey: ${JSON.stringify(second.result)}`)
  // The application started with b reads everything, and b still opens the store.
  const reads = await readsAll(t, appB, expected).then(() => null, (err) => `${err.code}: ${err.message}`)
  const reopened = await openWith(url, { key: b }).then(async (s) => (await s.close(), null), (err) => `${err.code}: ${err.message}`)
  t.deepEqual(
    { secondRefused: Boolean(second.err), appOnB: reads, reopenWithB: reopened },
    { secondRefused: true, appOnB: null, reopenWithB: null },
    'a rekey to another key while one runs must be refused; the first new key, given to applications already, must keep opening the store',
  )
  await first.kill()
})

test.serial('while a rekey to b runs, a rekey from a to a (the same key) is refused and b keeps opening the store', async (t) => {
  const { url } = tempDb()
  const [a, b] = [newKey(), newKey()]
  const store = await openStore(url, { encryption: { key: a } })
  const expected = await fill(store, 3, 20)
  await store.close()
  const first = start(t, CHILD, [url, JSON.stringify({ key: a }), JSON.stringify({ key: b }), '1'])
  await first.waitFor(/^done 1/, 'the rekey a -> b is under way')
  await first.kill()
  // The operator mistypes the resume: the same file for both keys.
  const same = await rekey({ store: url, from: { key: a }, to: { key: a } }).then((result) => ({ result }), (err) => ({ err }))
  t.log(same.err ? `${same.err.code} ${same.err.message}` : JSON.stringify(same.result))
  const withB = await openWith(url, { key: b }).then(async (s) => (await readsAll(t, s, expected), await s.close(), null), (err) => `${err.code}: ${err.message}`)
  t.deepEqual({ code: same.err?.code, withB }, { code: ErrorCodes.INVALID_ARG, withB: null }, 'the same key as new is refused, mid-rekey too')
})

test.serial('two rekeys to the same new key started at once both end well, and every value reads under it only', async (t) => {
  const { url } = tempDb()
  const [a, b] = [newKey(), newKey()]
  const store = await openStore(url, { encryption: { key: a } })
  const expected = await fill(store, 4, 300)
  await store.close()
  const results = await Promise.allSettled([0, 1].map(() => rekey({ store: url, from: { key: a }, to: { key: b } })))
  t.log(results.map((r) => (r.status === 'fulfilled' ? JSON.stringify(r.value) : `${r.reason.code} ${r.reason.message}`)))
  for (const r of results) if (r.status === 'rejected') t.not(r.reason.code, ErrorCodes.STORE_CORRUPT)
  t.true(results.some((r) => r.status === 'fulfilled' && r.value.finished))
  // Run again (as the refused one would be): nothing left.
  t.like(await rekey({ store: url, from: { key: a }, to: { key: b } }), { finished: true, resealed: 0 })
  await refused(t, url, { key: a })
  const after = await openWith(url, { key: b })
  await readsAll(t, after, expected)
  await after.close()
})

test.serial('a lease: false writer on the old key through a rekey: every acknowledged write reads under the new key, none is left under the old value key', async (t) => {
  const { url } = tempDb()
  const [a, b] = [newKey(), newKey()]
  const store = await openStore(url, { encryption: { key: a } })
  const expected = await fill(store, 3, 200)
  await store.close()
  const appStore = await openWith(url, { key: a })
  t.teardown(() => appStore.close())
  const app = await useRustAuthState('session-1', { store: appStore, lease: false })
  const acked = []
  const refusals = {}
  let stop = false
  const writer = (async () => {
    for (let i = 0; !stop; i++) {
      try {
        await app.state.keys.set({ 'pre-key': { [`w${i}`]: { public: Buffer.from(`written ${i}`) } } })
        acked.push(`w${i}`)
      } catch (err) {
        refusals[err.code] = (refusals[err.code] ?? 0) + 1
      }
    }
  })()
  // A session that did not exist when the rekey listed the store, created by the same handle.
  let late = null
  const result = await rekey({
    store: url,
    from: { key: a },
    to: { key: b },
    onProgress: ({ done }) => {
      if (done === 1) late = appStore.setCreds('late-session', { late: true })
    },
  })
  await late
  await until(() => acked.length > 0, 'a write acknowledged')
  stop = true
  await writer
  t.log(`acknowledged ${acked.length} writes; refused: ${JSON.stringify(refusals)}; rekey ${JSON.stringify(result)}`)
  t.like(result, { finished: true })
  await app.close()
  await appStore.close()
  await refused(t, url, { key: a })
  const after = await openWith(url, { key: b })
  await readsAll(t, after, expected)
  const read = await after.getKeys('session-1', 'pre-key', acked)
  t.deepEqual(Object.keys(read).sort(), [...acked].sort(), 'every acknowledged write reads')
  t.deepEqual(await after.getCreds('late-session'), { late: true })
  await after.close()
  // A finished rekey should have left nothing sealed under the value key the old key knows.
  const again = await rekey({ store: url, from: { key: a }, to: { key: b } })
  t.is(again.resealed, 0, 'values were still sealed under the old value key after the rekey said it finished')
})

test.serial('a session deleted while the rekey runs stays deleted (the rekey does not bring back its name or a lease)', async (t) => {
  const { url } = tempDb()
  const [a, b] = [newKey(), newKey()]
  const store = await openStore(url, { encryption: { key: a } })
  const expected = await fill(store, 4, 50)
  await store.close()
  let deleted = false
  // The rekey listed all four sessions; session-3 is deleted (acknowledged) before it gets there:
  // by another process, waited for here (the progress callback is synchronous), however slow the
  // machine.
  const deleteScript =
    `const { openStore } = require(${JSON.stringify(fileURLToPath(new URL('../index.js', import.meta.url)))});` +
    `(async () => { const s = await openStore(${JSON.stringify(url)}, { encryption: { key: ${JSON.stringify(a)} } }); await s.deleteSession('session-3'); await s.close() })()`
  const result = await rekey({
    store: url,
    from: { key: a },
    to: { key: b },
    onProgress: ({ done, look }) => {
      if (look === 0 && done === 1 && !deleted) {
        execFileSync(process.execPath, ['-e', deleteScript])
        deleted = true
      }
    },
  })
  t.true(deleted)
  t.log(JSON.stringify(result))
  t.like(result, { finished: true })
  expected.delete('session-3')
  const after = await openWith(url, { key: b })
  t.deepEqual(await after.sessions(), ['session-0', 'session-1', 'session-2'])
  // Released leases stay listed (live: false) as with any tool; but none for the deleted session,
  // which had none when it was deleted: the rekey's name() and lease re-create it.
  t.deepEqual((await after.leases()).map((l) => l.session).filter((s) => s === 'session-3'), [], 'the deleted session is listed again')
  t.is(await after.getCreds('session-3'), null)
  await after.close()
  // A later rekey does not count the deleted session.
  const c = newKey()
  t.like(await rekey({ store: url, from: { key: b }, to: { key: c } }), { sessions: 3 })
  const last = await openWith(url, { key: c })
  await readsAll(t, last, expected)
  await last.close()
})

test.serial('on Redis, a process opened on the new key mid-rekey and a lease: false writer on the old key: every acknowledged write reads after', async (t) => {
  if (!requireRedis(t)) return
  const keyPrefix = redisPrefix(t)
  const [a, b] = [newKey(), newKey()]
  const store = await openStore(REDIS, { keyPrefix, encryption: { key: a } })
  const expected = await fill(store, 3, 300)
  await store.close()
  const oldStore = await openWith(REDIS, { key: a }, { keyPrefix })
  t.teardown(() => oldStore.close())
  const writerOld = await useRustAuthState('session-2', { store: oldStore, lease: false })
  let newStore = null
  let writerNew = null
  const acked = []
  const refusals = []
  let stop = false
  const loop = async (name, handle) => {
    for (let i = 0; !stop; i++) {
      await handle.state.keys.set({ 'sender-key': { [`${name}${i}`]: Buffer.from(`${name} ${i}`) } }).then(
        () => acked.push(`${name}${i}`),
        (err) => refusals.push(err.code),
      )
    }
  }
  const loops = [loop('old', writerOld)]
  const result = await rekey({
    store: REDIS,
    storeOptions: { keyPrefix },
    from: { key: a },
    to: { key: b },
    onProgress: ({ done }) => {
      if (done === 1 && newStore === null) {
        newStore = openWith(REDIS, { key: b }, { keyPrefix }).then(async (s) => {
          writerNew = await useRustAuthState('session-0', { store: s, lease: false })
          loops.push(loop('new', writerNew))
          return s
        })
      }
    },
  })
  newStore = await newStore
  t.teardown(() => newStore.close())
  await until(() => acked.some((k) => k.startsWith('new')), 'the new-key writer wrote')
  stop = true
  await Promise.all(loops)
  t.log(`${acked.length} acknowledged, refused ${JSON.stringify(refusals.reduce((m, c) => ({ ...m, [c]: (m[c] ?? 0) + 1 }), {}))}; ${JSON.stringify(result)}`)
  t.like(result, { finished: true })
  const after = await openWith(REDIS, { key: b }, { keyPrefix })
  await readsAll(t, after, expected)
  for (const session of ['session-0', 'session-2']) {
    const mine = acked.filter((k) => k.startsWith(session === 'session-0' ? 'new' : 'old'))
    t.is(Object.keys(await after.getKeys(session, 'sender-key', mine)).length, mine.length, session)
  }
  await after.close()
  await refused(t, REDIS, { key: a }, { keyPrefix })
})

test.serial('an owner writing continuously in another process through a rekey: every acknowledged write reads under the new key', async (t) => {
  const { url } = tempDb()
  const [a, b] = [newKey(), newKey()]
  const store = await openStore(url, { encryption: { key: a } })
  const expected = await fill(store, 3, 100)
  await store.close()
  const owner = start(t, OWNER, [url, a, 'session-0', '3000', '0'])
  await owner.waitFor(/^ready/, 'the owner is ready')
  const result = await rekey({ store: url, from: { key: a }, to: { key: b } })
  t.like(result, { finished: true, pending: [] })
  const lastBefore = owner.lines.filter((l) => l.startsWith('ack')).length
  // The owner keeps writing after the rekey finished.
  await owner.waitFor(new RegExp(`^ack ${lastBefore + 20}$`), 'the owner writes on after the rekey')
  await owner.kill()
  const acked = owner.lines.filter((l) => l.startsWith('ack ')).map((l) => `c${l.slice(4)}`)
  t.deepEqual(owner.lines.filter((l) => l.startsWith('err') || l.startsWith('lost')), [])
  const after = await openWith(url, { key: b })
  await readsAll(t, after, expected)
  t.is(Object.keys(await after.getKeys('session-0', 'pre-key', acked)).length, acked.length)
  await after.close()
  await refused(t, url, { key: a })
})

test.serial('an owner killed while it re-seals its 20,000-key session leaves nothing unreadable; the rekey ends', async (t) => {
  const { url } = tempDb()
  const [a, b] = [newKey(), newKey()]
  const store = await openStore(url, { encryption: { key: a } })
  const expected = await fill(store, 1, 10, 'other-')
  await store.close()
  const owner = start(t, OWNER, [url, a, 'big "session"/ü', '3000', '20000'])
  await owner.waitFor(/^ready/, 'the owner filled its session', 180000)
  // A probe (on the new key, once the rekey began) counts the values still to re-seal, as the
  // rekey does, and kills the owner as soon as that count has started to fall: the owner is then
  // in the middle of re-sealing its session, inside a lease renewal.
  const session = 'big "session"/ü'
  let probing = null
  let killedAt = null
  const probe = async () => {
    const probeStore = await openWith(url, { key: b })
    try {
      const native = nativeOf(probeStore)
      let first = null
      for (;;) {
        const { stale, owner: holder } = codec.decodeValue(await native.rekeySession(session, 10000, 'review15-probe'))
        if (holder === null) return `the probe found no owner (${stale} left)`
        first ??= stale
        if (stale === 0) return `the owner had re-sealed everything (of ${first}) before the probe saw it in the middle`
        if (stale < first) {
          killedAt = stale
          await owner.kill()
          return `owner killed with ${stale} of ${first} values left to re-seal`
        }
      }
    } finally {
      await probeStore.close()
    }
  }
  const result = await rekey({
    store: url,
    from: { key: a },
    to: { key: b },
    waitMs: 120000,
    onProgress: () => {
      probing ??= probe()
    },
  })
  t.log(`${await probing}; rekey ${JSON.stringify(result)}`)
  t.like(result, { finished: true, pending: [] })
  const acked = owner.lines.filter((l) => l.startsWith('ack ')).map((l) => `c${l.slice(4)}`)
  await owner.kill()
  const after = await openWith(url, { key: b })
  await readsAll(t, after, expected)
  const big = Array.from({ length: 20000 }, (_, i) => `big-${i}`)
  const read = await after.getKeys('big "session"/ü', 'pre-key', [...big, ...acked])
  t.is(Object.keys(read).length, big.length + acked.length)
  t.deepEqual(read['big-19999'], { public: Buffer.from('big value 19999') })
  await after.close()
  await refused(t, url, { key: a })
  t.like(await rekey({ store: url, from: { key: a }, to: { key: b } }), { finished: true, resealed: 0 })
})

test.serial('a rekey SIGKILLed on Redis (inside its own lease) resumes once that lease lapses, and ends under the new key only', async (t) => {
  if (!requireRedis(t)) return
  const keyPrefix = redisPrefix(t)
  const [a, b] = [newKey(), newKey()]
  const store = await openStore(REDIS, { keyPrefix, encryption: { key: a } })
  const expected = await fill(store, 4, 2000)
  await store.close()
  const child = start(t, CHILD, [REDIS, JSON.stringify({ key: a }), JSON.stringify({ key: b }), '0', JSON.stringify({ keyPrefix })])
  await child.waitFor(/^done 1/, 'the rekey did one session')
  await child.kill()
  const mid = await openWith(REDIS, { key: a }, { keyPrefix })
  await readsAll(t, mid, expected)
  await mid.close()
  const events = []
  const result = await rekey({ store: REDIS, storeOptions: { keyPrefix }, from: { key: a }, to: { key: b }, onProgress: (e) => events.push(e) })
  t.log(`resumed: ${JSON.stringify(result)}; ${events.filter((e) => e.owner).length} look(s) at a session the killed rekey held`)
  t.like(result, { finished: true, pending: [] })
  await refused(t, REDIS, { key: a }, { keyPrefix })
  const after = await openWith(REDIS, { key: b }, { keyPrefix })
  await readsAll(t, after, expected)
  await after.close()
  t.like(await rekey({ store: REDIS, storeOptions: { keyPrefix }, from: { key: a }, to: { key: b } }), { finished: true, resealed: 0 })
})

test.serial('on a loaded machine (two busy loops) a rekey with an in-process owner and a reader ends, and everything reads', async (t) => {
  const busy = [0, 1].map(() => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }))
  t.teardown(() => busy.forEach((p) => p.kill('SIGKILL')))
  const { url } = tempDb()
  const [a, b] = [newKey(), newKey()]
  const store = await openStore(url, { encryption: { key: a } })
  const expected = await fill(store, 3, 500)
  await store.close()
  const appStore = await openWith(url, { key: a })
  t.teardown(() => appStore.close())
  const app = await useRustAuthState('session-2', { store: appStore, lease: true, leaseMs: 1500 })
  let stop = false
  const acked = []
  const writeErrors = []
  const writer = (async () => {
    for (let i = 0; !stop; i++) {
      await app.state.keys.set({ 'pre-key': { [`l${i}`]: { public: Buffer.from(`loaded ${i}`) } } }).then(
        () => acked.push(`l${i}`),
        (err) => writeErrors.push(err.code),
      )
    }
  })()
  const oldReader = await openWith(url, { key: a })
  t.teardown(() => oldReader.close())
  let reader = null
  const readsDuring = []
  const result = await rekey({
    store: url,
    from: { key: a },
    to: { key: b },
    onProgress: () => {
      // A process opened on the new key once the rekey began, and one on the old key, reading while it runs.
      reader ??= openWith(url, { key: b })
      readsDuring.push(reader.then((r) => r.getKeys('session-0', 'pre-key', ['1'])), oldReader.getKeys('session-1', 'pre-key', ['2']))
    },
  })
  stop = true
  await writer
  reader = await reader
  t.teardown(() => reader.close())
  for (const read of await Promise.all(readsDuring)) t.is(Object.keys(read).length, 1)
  t.like(result, { finished: true, pending: [] })
  t.deepEqual(writeErrors, [])
  t.is(app.stats().lease.lost, false)
  await readsAll(t, reader, expected)
  t.is(Object.keys(await reader.getKeys('session-2', 'pre-key', acked)).length, acked.length)
  await app.close()
})

// ---------------------------------------------------------------------------------------
// Hostile input

test.serial('hostile input is refused with its code, names no secret, and changes nothing', async (t) => {
  const { url } = tempDb()
  const a = newKey()
  const pass = 'correct horse battery staple'
  const store = await openStore(url, { encryption: { key: a } })
  const expected = await fill(store, 1, 5)
  await store.close()
  const secrets = [a, Buffer.from(a, 'hex').toString('base64'), pass]
  const expectCode = async (options, code, what) => {
    const err = await t.throwsAsync(rekey({ store: url, ...options }), undefined, what)
    t.is(err?.code, code, `${what}: ${err?.message}`)
    for (const secret of secrets) t.false(String(err?.message).includes(secret), `${what} names a secret`)
  }
  const b = newKey()
  await expectCode({ from: { key: newKey() }, to: { key: b } }, ErrorCodes.STORE_KEY, 'wrong old key')
  await expectCode({ from: { passphrase: pass }, to: { key: b } }, ErrorCodes.STORE_KEY, 'a passphrase for a key store')
  await expectCode({ from: { key: a }, to: { key: 'abc' } }, ErrorCodes.INVALID_ARG, 'a short new key')
  await expectCode({ from: { key: a }, to: { key: 'z'.repeat(64) } }, ErrorCodes.INVALID_ARG, 'a new key that is not hex')
  await expectCode({ from: { key: a }, to: { key: b, passphrase: pass } }, ErrorCodes.INVALID_ARG, 'both key and passphrase')
  await expectCode({ from: { key: a }, to: { passphrase: '' } }, ErrorCodes.INVALID_ARG, 'an empty passphrase')
  await expectCode({ from: { key: a }, to: {} }, ErrorCodes.INVALID_ARG, 'an empty new key')
  await expectCode({ from: { key: a }, to: 'the key' }, ErrorCodes.INVALID_ARG, 'a string as the new key')
  await expectCode({ from: { key: a }, to: { key: Buffer.from(a, 'hex') } }, ErrorCodes.INVALID_ARG, 'the same key as a Buffer')
  await expectCode({ from: { key: a }, to: { key: b }, waitMs: -1 }, ErrorCodes.INVALID_ARG, 'a negative waitMs')
  await expectCode({ from: { key: a }, to: { key: b }, storeOptions: { encryption: { key: b } } }, ErrorCodes.INVALID_ARG, 'encryption in storeOptions')
  // Nothing changed: the old key is the only one.
  const still = await openWith(url, { key: a })
  await readsAll(t, still, expected)
  await still.close()
  await refused(t, url, { key: b })
  // A store that does not exist is not created.
  const missing = join(tempDir(), 'missing.db')
  const notThere = await t.throwsAsync(rekey({ store: `sqlite:${missing}`, from: { key: a }, to: { key: b } }))
  t.is(notThere.code, ErrorCodes.STORE_NOT_FOUND)
  // Key to passphrase and back works; the same passphrase again is refused.
  t.like(await rekey({ store: url, from: { key: a }, to: { passphrase: pass } }), { finished: true })
  await expectCode({ from: { passphrase: pass }, to: { passphrase: pass } }, ErrorCodes.INVALID_ARG, 'the same passphrase')
  t.like(await rekey({ store: url, from: { passphrase: pass }, to: { key: b } }), { finished: true })
  const back = await openWith(url, { key: b })
  await readsAll(t, back, expected)
  await back.close()
  await refused(t, url, { passphrase: pass })
})

test.serial('an empty encrypted store, and a store holding only a lease, rekey', async (t) => {
  const [a, b] = [newKey(), newKey()]
  const { url: empty } = tempDb()
  await (await openStore(empty, { encryption: { key: a } })).close()
  t.like(await rekey({ store: empty, from: { key: a }, to: { key: b } }), { sessions: 0, finished: true })
  await refused(t, empty, { key: a })
  await (await openWith(empty, { key: b })).close()
  // Only a lease: a handle that took its session and wrote nothing, then closed without release?
  const { url: leased } = tempDb()
  const leaseStore = await openStore(leased, { encryption: { key: a } })
  const handle = await useRustAuthState('only-lease ✓ #1', { store: leaseStore, lease: true, leaseMs: 3000 })
  const result = await rekey({ store: leased, from: { key: a }, to: { key: b } })
  t.log(JSON.stringify(result))
  t.like(result, { finished: true })
  await handle.close()
  await leaseStore.close()
  const after = await openWith(leased, { key: b })
  t.deepEqual(await after.getCreds('only-lease ✓ #1'), null)
  await after.close()
})

// ---------------------------------------------------------------------------------------
// CLI

test.serial('the CLI rekey prints no secret, refuses a wrong key with its code, and ends the rekey', async (t) => {
  const dir = tempDir()
  const { url } = tempDb()
  const [a, b] = [newKey(), newKey()]
  const store = await openStore(url, { encryption: { key: a } })
  const expected = await fill(store, 2, 10, 'odd \u0000 id\n-')
  await store.close()
  const oldFile = join(dir, 'old.key')
  const newFile = join(dir, 'new.key')
  const wrongFile = join(dir, 'wrong.key')
  const wrong = newKey()
  writeFileSync(oldFile, `${a}\n`, { mode: 0o600 })
  writeFileSync(newFile, Buffer.from(b, 'hex').toString('base64'), { mode: 0o600 })
  writeFileSync(wrongFile, wrong, { mode: 0o600 })
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const secrets = [a, b, wrong, Buffer.from(b, 'hex').toString('base64'), 'hunter2-passphrase']
  const clean = (run, what) => {
    for (const secret of secrets) t.false(`${run.stdout}${run.stderr}`.includes(secret), `${what} printed a secret`)
  }
  const bad = await cli(['rekey', '--store', url, '--key-file', wrongFile, '--new-key-file', newFile])
  clean(bad, 'wrong key')
  t.not(bad.code, 0)
  t.regex(bad.stderr, /ERR_STORE_KEY|key/)
  const same = await cli(['rekey', '--store', url, '--key-file', oldFile, '--new-key-file', oldFile])
  clean(same, 'same key')
  t.not(same.code, 0)
  const mixed = await cli(['rekey', '--store', url, '--key-file', oldFile, '--new-passphrase-env', 'R15_PASS'], { env: { R15_PASS: 'hunter2-passphrase' } })
  clean(mixed, 'key to passphrase')
  t.is(mixed.code, 0, mixed.stderr)
  const back = await cli(['rekey', '--store', url, '--passphrase-env', 'R15_PASS', '--new-key-file', newFile, '--json'], { env: { R15_PASS: 'hunter2-passphrase' } })
  clean(back, 'passphrase to key')
  t.is(back.code, 0, back.stderr)
  const after = await openWith(url, { key: b })
  await readsAll(t, after, expected)
  await after.close()
  await refused(t, url, { key: a })
})
