// Ownership at fleet scale (docs/ownership.md): on a SQLite file a process holds one lock file
// however many sessions it owns, and a process killed while owning several loses them all at
// once; one renewal call renews every lease of a store, each with its own outcome; acquisitions
// issued together are granted together, each with its own result. Other processes are real
// (fixtures/sessions-owner.mjs). Nothing waits a fixed time: every wait polls with a deadline.
import test from 'ava'
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

import { openStore, useRustAuthState, ErrorCodes } from '../index.mjs'
import { tempDir } from './helpers/temp.mjs'
import { until } from './helpers/until.mjs'

const OWNER = fileURLToPath(new URL('./fixtures/sessions-owner.mjs', import.meta.url))

/** Starts a process owning `sessions`; resolves once it says whether it owns them. */
async function startOwner(t, url, sessions, options = {}) {
  const child = spawn(process.execPath, [OWNER, url, JSON.stringify(sessions), JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const exited = new Promise((resolve) => child.on('exit', resolve))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    return exited
  })
  const lines = createInterface({ input: child.stdout })
  const first = await new Promise((resolve) => lines.once('line', (line) => resolve(JSON.parse(line))))
  return { child, first, exited }
}

const sqliteUrl = () => {
  const db = join(tempDir(), 'auth.db')
  return { db, url: `sqlite:${db}` }
}

test('sqlite-file: a process owning two sessions holds one lock file, and killed, loses both at once', async (t) => {
  const { db, url } = sqliteUrl()
  const owner = await startOwner(t, url, ['alice', 'bob'], { leaseMs: 600000 })
  t.deepEqual(owner.first, { ready: true, epochs: [1, 1] })
  t.is(readdirSync(`${db}.leases`).length, 1, 'one lock file for both sessions')
  const store = await openStore(url)
  t.teardown(() => store.close())
  for (const id of ['alice', 'bob']) {
    const err = await t.throwsAsync(store.acquireLease(id, { claim: 'refuse' }))
    t.is(err.code, ErrorCodes.SESSION_LOCKED)
    t.is(err.owner.pid, owner.child.pid)
  }
  owner.child.kill('SIGKILL')
  await owner.exited
  // Leases of 10 minutes: taken now, so because the kernel released the dead process's lock.
  const [alice, bob] = await Promise.all(['alice', 'bob'].map((id) => useRustAuthState(id, { store: url })))
  t.teardown(() => Promise.all([alice.close(), bob.close()]))
  t.is(alice.stats().lease.epoch, 2)
  t.is(bob.stats().lease.epoch, 2)
  t.is(readdirSync(`${db}.leases`).length, 1, "the dead process's lock file was deleted, ours remains")
})

test('sqlite-file: acquisitions issued together each get their own result: one LOCKED fails no other', async (t) => {
  const { url } = sqliteUrl()
  const owner = await startOwner(t, url, ['taken'], { leaseMs: 600000 })
  t.true(owner.first.ready)
  const ids = ['a', 'b', 'taken', 'c', 'd']
  const results = await Promise.allSettled(ids.map((id) => useRustAuthState(id, { store: url })))
  t.teardown(() => Promise.all(results.filter((r) => r.status === 'fulfilled').map((r) => r.value.close())))
  t.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
  )
  t.is(results[2].reason.code, ErrorCodes.SESSION_LOCKED)
  t.is(results[2].reason.owner.pid, owner.child.pid)
  t.true(results[2].reason.owner.expiresAt instanceof Date)
  // The store's own call, directly: outcomes in order.
  const store = await openStore(url)
  t.teardown(() => store.close())
  const outcomes = await store.acquireLeases(['e', 'taken', 'f'], ['refuse', 'refuse', 'refuse'], 5000)
  t.is(outcomes[0].lease.epoch, 1)
  t.is(outcomes[1].error.code, ErrorCodes.SESSION_LOCKED)
  t.is(outcomes[2].lease.epoch, 1)
  // Bad input is refused before anything is granted.
  await t.throwsAsync(store.acquireLeases(['g'], ['sometimes'], 5000), { code: ErrorCodes.INVALID_ARG })
  await t.throwsAsync(store.acquireLeases('g', ['refuse'], 5000), { code: ErrorCodes.INVALID_ARG })
  await t.throwsAsync(store.acquireLeases(['g', 'h'], ['refuse'], 5000), { code: ErrorCodes.INVALID_ARG })
  t.is(await store.lease('g'), null)
})

for (const kind of ['sqlite-file', 'redis']) {
  test(`${kind}: one renewal call renews every lease of the store, and fences only the one taken over`, async (t) => {
    let url
    if (kind === 'redis') {
      const { requireRedis, startRedis } = await import('./helpers/redis-server.mjs')
      if (!requireRedis(t)) return
      url = (await startRedis({ unixSocket: true })).url
    } else {
      url = sqliteUrl().url
    }
    const store = await openStore(url)
    t.teardown(() => store.close())
    const ids = ['one', 'two', 'three']
    const granted = await Promise.all(ids.map((id) => store.acquireLease(id, { leaseMs: 5000, claim: 'refuse' })))
    await store.acquireLease('two', { leaseMs: 5000, claim: 'takeover' })
    const outcomes = await store.renewLeases(
      ids,
      granted.map((g) => g.fence),
      60000,
    )
    t.is(outcomes[1].error.code, ErrorCodes.SESSION_FENCED)
    for (const i of [0, 2]) {
      t.is(outcomes[i].lease.epoch, 1)
      t.true(outcomes[i].lease.expiresAt > granted[i].expiresAt, 'renewed for a minute')
    }
    await t.throwsAsync(store.renewLeases(['one'], ['not a fence'], 60000), { code: ErrorCodes.INVALID_ARG })
  })
}

test('sqlite-file: handles renewed together: the one taken over is lost, the others stay owned and renewed', async (t) => {
  const { url } = sqliteUrl()
  const ids = ['h1', 'h2', 'h3']
  // The default leaseMs (renewed every 10 s): on a machine loaded past its cores, an answer
  // can be late by seconds, and the watchdog then rightly reports a short lease at risk (at
  // 1500 ms a 250 ms stall sufficed; at 6000 ms it still happened once under two spinners).
  const handles = await Promise.all(ids.map((id) => useRustAuthState(id, { store: url, leaseMs: 30000 })))
  t.teardown(() => Promise.all(handles.map((h) => h.close())))
  const first = handles.map((h) => h.stats().lease.expiresAt.getTime())
  const store = await openStore(url)
  t.teardown(() => store.close())
  await store.acquireLease('h2', { claim: 'takeover' })
  // (The renewal timer does not keep the process alive: until() does, meanwhile.)
  await until(() => handles[1].stats().lease.lost, 'the taken session reported lost')
  t.is((await handles[1].lost).code, ErrorCodes.SESSION_FENCED)
  // The others go on being renewed, several times over: never lost.
  const renewedSince = (i) => handles[i].stats().lease.expiresAt.getTime() > first[i] + 5000
  await until(() => {
    if (handles[0].stats().lease.lost || handles[2].stats().lease.lost) throw new Error('another handle was reported lost')
    return renewedSince(0) && renewedSince(2)
  }, 'renewals of the others')
  t.false(handles[0].stats().lease.lost)
  t.false(handles[2].stats().lease.lost)
  await handles[0].saveCreds()
})

test('an event loop blocked for longer than the lease does not lose the session when nobody took it meanwhile', async (t) => {
  // Baileys' own work can stall the loop for seconds with a thousand sessions in one process:
  // the renewals due meanwhile cannot be sent, and the first one sent afterwards must decide.
  const { url } = sqliteUrl()
  const leaseMs = 3000
  const { state, saveCreds, lost, stats, close } = await useRustAuthState('stalled', { store: url, leaseMs })
  t.teardown(close)
  let lostWith = null
  lost.then((err) => (lostWith = err))
  const epoch = stats().lease.epoch
  // Deliberately block this thread (no timer, no I/O can run) for longer than the whole lease.
  const blockedUntil = Date.now() + leaseMs + 500
  while (Date.now() < blockedUntil) {}
  await state.keys.set({ 'pre-key': { 1: { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) } } })
  await saveCreds()
  // The late renewal is answered within its grace; poll for it rather than wait a fixed time.
  await until(() => stats().lease.expiresAt.getTime() > Date.now(), 'the lease to be renewed after the stall')
  t.is(lostWith, null)
  t.is(stats().lease.lost, false)
  t.is(stats().lease.epoch, epoch, 'the same lease, renewed late, not a new one')
})
