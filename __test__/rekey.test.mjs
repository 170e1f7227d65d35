// rekey (docs/encryption.md, "Rotation"): an encrypted store re-sealed under a new key while it
// is in use, resumable after a SIGKILL, ending with every value readable under the new key only.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'

import test from 'ava'

import { ErrorCodes, openStore, rekey, useRustAuthState } from '../index.mjs'
import { requireRedis } from './helpers/redis-server.mjs'
import { tempDb } from './helpers/temp.mjs'

const CHILD = fileURLToPath(new URL('./fixtures/rekey-child.mjs', import.meta.url))
const newKey = () => randomBytes(32).toString('hex')

/** Sessions with creds and keys of several types, more keys than one re-seal batch. */
async function fill(store, sessions, keysEach) {
  const expected = new Map()
  for (let s = 0; s < sessions; s++) {
    const session = `session-${s}`
    const creds = { me: { id: `49155500${s}:1@s.whatsapp.net` }, n: s }
    await store.setCreds(session, creds)
    const batch = { 'pre-key': {}, session: {} }
    for (let i = 0; i < keysEach; i++) batch['pre-key'][String(i)] = { value: Buffer.from(`pre-key ${s}.${i}`) }
    batch.session[`4915550${s}.0`] = Buffer.from(`session of ${s}`)
    await store.setKeys(session, batch)
    expected.set(session, { creds, batch })
  }
  return expected
}

/** Every value of `expected` reads back from `store`. */
async function readsAll(t, store, expected) {
  t.deepEqual(await store.sessions(), [...expected.keys()].sort())
  for (const [session, { creds, batch }] of expected) {
    t.deepEqual(await store.getCreds(session), creds, session)
    for (const [type, values] of Object.entries(batch)) t.deepEqual(await store.getKeys(session, type, Object.keys(values)), values, `${session} ${type}`)
  }
}

async function opensWith(url, key) {
  const store = await openStore(url, { create: false, encryption: { key } })
  await store.close()
}

test('rekey re-seals every session; the old key then opens nothing, the new one reads everything', async (t) => {
  const { url } = tempDb()
  const [a, b] = [newKey(), newKey()]
  const store = await openStore(url, { encryption: { key: a } })
  const expected = await fill(store, 3, 300)
  await store.close()
  const events = []
  const result = await rekey({ store: url, from: { key: a }, to: { key: b }, onProgress: (e) => events.push(e) })
  t.like(result, { sessions: 3, finished: true, pending: [] })
  // Each session: its name record, creds, 300 pre-keys and one session key.
  t.is(result.resealed, 3 * (1 + 1 + 301))
  t.deepEqual(events.filter((e) => e.look === 0).map((e) => [e.session, e.stale, e.done, e.total]), [0, 1, 2].map((s) => [`session-${s}`, 0, s + 1, 3]))
  t.true(events.filter((e) => e.look > 0).every((e) => e.resealed === 0), 'a last look that found nothing left')
  const err = await t.throwsAsync(opensWith(url, a))
  t.is(err.code, ErrorCodes.STORE_KEY)
  const again = await openStore(url, { encryption: { key: b } })
  await readsAll(t, again, expected)
  await again.close()
  // Run again, it finds the rekey done: nothing is left to re-seal.
  t.like(await rekey({ store: url, from: { key: a }, to: { key: b } }), { resealed: 0, finished: true })
})

test('rekey refuses what it cannot do, with its code, and changes nothing', async (t) => {
  const { url } = tempDb()
  const a = newKey()
  const plain = await openStore(url)
  await plain.setCreds('s', { n: 1 })
  await plain.close()
  const notEncrypted = await t.throwsAsync(rekey({ store: url, from: { key: a }, to: { key: newKey() } }))
  t.is(notEncrypted.code, ErrorCodes.STORE_KEY)
  t.regex(notEncrypted.message, /not encrypted/)
  const { url: sealedUrl } = tempDb()
  const sealed = await openStore(sealedUrl, { encryption: { key: a } })
  await sealed.setCreds('s', { n: 1 })
  await sealed.close()
  t.is((await t.throwsAsync(rekey({ store: sealedUrl, from: { key: a } }))).code, ErrorCodes.INVALID_ARG)
  t.is((await t.throwsAsync(rekey({ store: sealedUrl, from: { key: a }, to: { key: 'short' } }))).code, ErrorCodes.INVALID_ARG)
  const same = await t.throwsAsync(rekey({ store: sealedUrl, from: { key: a }, to: { key: Buffer.from(a, 'hex').toString('base64') } }))
  t.is(same.code, ErrorCodes.INVALID_ARG, 'the same key, written another way')
  const wrong = await t.throwsAsync(rekey({ store: sealedUrl, from: { key: newKey() }, to: { key: newKey() } }))
  t.is(wrong.code, ErrorCodes.STORE_KEY)
  t.false(wrong.message.includes(a))
  await opensWith(sealedUrl, a)
  t.pass('the store still opens with its key')
})

test('a rekey killed by SIGKILL resumes and ends with every value readable under the new key only', async (t) => {
  const { url } = tempDb()
  const [a, b] = [newKey(), newKey()]
  const store = await openStore(url, { encryption: { key: a } })
  const expected = await fill(store, 6, 600)
  await store.close()
  // Killed when two sessions are done (frozen there, so the kill always lands mid-rekey), then
  // killed again as soon as it reports its first session (wherever it then is).
  for (const freezeAt of [2, 0]) {
    const child = spawn(process.execPath, [CHILD, url, a, b, String(freezeAt)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal)))
    await new Promise((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (chunk) => {
        out += chunk
        const done = Math.max(0, ...[...out.matchAll(/done (\d+)/g)].map((m) => Number(m[1])))
        if ((freezeAt > 0 && done >= freezeAt) || (freezeAt === 0 && done >= 1)) resolve()
      })
      child.on('exit', () => reject(new Error(`the rekey ended before it was killed: ${out}`)))
    }).catch((err) => (freezeAt === 0 ? t.log(err.message) : Promise.reject(err)))
    child.kill('SIGKILL')
    await exited
    if (freezeAt > 0) {
      // Mid-rekey: both keys open the store, and every value reads.
      for (const key of [a, b]) {
        const mid = await openStore(url, { create: false, encryption: { key } })
        await readsAll(t, mid, expected)
        await mid.close()
      }
    }
  }
  const result = await rekey({ store: url, from: { key: a }, to: { key: b } })
  t.like(result, { sessions: 6, finished: true, pending: [] })
  t.is((await t.throwsAsync(opensWith(url, a))).code, ErrorCodes.STORE_KEY)
  const after = await openStore(url, { create: false, encryption: { key: b } })
  await readsAll(t, after, expected)
  await after.close()
  t.like(await rekey({ store: url, from: { key: a }, to: { key: b } }), { resealed: 0, finished: true })
})

for (const kind of ['sqlite', 'redis']) {
  test(`a running owner keeps its session through a rekey and re-seals it itself (${kind})`, async (t) => {
    if (kind === 'redis' && !requireRedis(t)) return
    const url = kind === 'sqlite' ? tempDb().url : 'redis://127.0.0.1:6379'
    const storeOptions = kind === 'redis' ? { keyPrefix: `rekey-${randomBytes(6).toString('hex')}` } : {}
    const [a, b] = [newKey(), newKey()]
    const first = await openStore(url, { ...storeOptions, encryption: { key: a } })
    const expected = await fill(first, 2, 50)
    await first.close()
    // An application owns session-0, renewing its lease every second.
    const appStore = await openStore(url, { ...storeOptions, encryption: { key: a } })
    const app = await useRustAuthState('session-0', { store: appStore, lease: true, leaseMs: 3000 })
    await app.state.keys.set({ 'pre-key': { before: { public: Buffer.from('written before') } } })
    const events = []
    const result = await rekey({ store: url, storeOptions, from: { key: a }, to: { key: b }, onProgress: (e) => events.push(e) })
    t.like(result, { sessions: 2, finished: true, pending: [] })
    // The rekey never took the owner's session: it counted it until the owner had re-sealed it
    // (at a lease renewal, before or after the rekey first looked).
    const owned = events.filter((e) => e.session === 'session-0')
    t.true(owned.length > 0 && owned.every((e) => e.owner?.pid === process.pid), 'the owned session was left to its owner')
    t.is(owned.at(-1).stale, 0)
    t.true(events.filter((e) => e.session === 'session-1').every((e) => e.owner === null))
    // The owner writes on, under the new value key, and reads what it wrote before.
    await app.state.keys.set({ 'pre-key': { after: { public: Buffer.from('written after') } } })
    t.deepEqual(Object.keys(await app.state.keys.get('pre-key', ['before', 'after'])), ['before', 'after'])
    await app.close()
    await appStore.close()
    t.is((await t.throwsAsync(openStore(url, { ...storeOptions, create: false, encryption: { key: a } }))).code, ErrorCodes.STORE_KEY)
    const after = await openStore(url, { ...storeOptions, create: false, encryption: { key: b } })
    await readsAll(t, after, expected)
    t.deepEqual(Object.keys(await after.getKeys('session-0', 'pre-key', ['before', 'after'])), ['before', 'after'])
    await after.close()
    t.like(await rekey({ store: url, storeOptions, from: { key: a }, to: { key: b } }), { resealed: 0, finished: true })
  })
}

test('two Baileys devices keep talking through a rekey of their store, and on under the new key after a restart', async (t) => {
  const baileys = await import('baileys')
  const { makeDevice, sendDirect, startSession } = await import('../examples/lib/simulated-devices.mjs')
  const ALICE = { jid: '15559990001@s.whatsapp.net', lid: '90009990001@lid' }
  const BOB = { jid: '15559990002@s.whatsapp.net', lid: '90009990002@lid' }
  const { url } = tempDb()
  const [a, b] = [newKey(), newKey()]
  const devices = async (store) => ({
    alice: await makeDevice(baileys, await useRustAuthState('alice', { store, baileys, lease: true, leaseMs: 3000 }), ALICE),
    bob: await makeDevice(baileys, await useRustAuthState('bob', { store, baileys, lease: true, leaseMs: 3000 }), BOB),
  })
  let sent = 0
  const converse = async (alice, bob, count) => {
    for (let i = 0; i < count; i++, sent++) {
      const [from, to] = sent % 2 === 0 ? [bob, alice] : [alice, bob]
      t.is((await sendDirect(from, to, `message ${sent}`)).type, 'msg')
    }
  }
  let store = await openStore(url, { encryption: { key: a } })
  let { alice, bob } = await devices(store)
  await startSession(alice, bob)
  t.is((await sendDirect(alice, bob, 'first')).type, 'pkmsg')
  await converse(alice, bob, 20)
  // The rekey runs while both keep talking; both sessions are owned, so each device re-seals its own.
  let finished = false
  const rekeyed = rekey({ store: url, from: { key: a }, to: { key: b } }).finally(() => {
    finished = true
  })
  while (!finished) await converse(alice, bob, 2)
  t.like(await rekeyed, { sessions: 2, finished: true, pending: [] })
  await converse(alice, bob, 20)
  await alice.auth.close()
  await bob.auth.close()
  await store.close()
  t.is((await t.throwsAsync(opensWith(url, a))).code, ErrorCodes.STORE_KEY)
  store = await openStore(url, { encryption: { key: b } })
  ;({ alice, bob } = await devices(store))
  await converse(alice, bob, 20)
  await alice.auth.close()
  await bob.auth.close()
  await store.close()
  t.like(await rekey({ store: url, from: { key: a }, to: { key: b } }), { resealed: 0, finished: true })
})
