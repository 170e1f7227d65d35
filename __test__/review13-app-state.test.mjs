// Review of issue 13's app-state versions in pieces (lib/app-state.js, lib/app-state-cache.js,
// lib/owner-cache.js): a random sequence of patches, whole rewrites, odd shapes, deletes and
// shrinks to nothing, some awaited and some not, through an owner's cache, checked against a
// model by the owner, by a second store that never saw the writes, and by listKeys and stats.
import test from 'ava'
import { randomBytes } from 'node:crypto'

import { openStore, useRustAuthState } from '../index.mjs'
import { requireRedis, startRedis, stopAll } from './helpers/redis-server.mjs'
import { tempDb } from './helpers/temp.mjs'

const require = (await import('node:module')).createRequire(import.meta.url)
const { nativeOf } = require('../lib/store.js')
const wire = require('../lib/wire.js')

test.after.always(stopAll)

const TYPE = 'app-state-sync-version'
const IDS = ['critical_block', 'critical_unblock_low', 'regular', 'regular_high', 'regular_low']

let seed = Number(process.env.REVIEW13_SEED ?? Date.now() % 100000)
const rnd = (n) => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
  return seed % n
}

const mac = () => randomBytes(32)
/** A deep copy that keeps Buffers Buffers (structuredClone makes them Uint8Arrays). */
const clone = (v) =>
  Buffer.isBuffer(v) ? Buffer.from(v) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)])) : v
const index = () => randomBytes(rnd(4) === 0 ? 8 : 32).toString('base64')

function fresh(entries) {
  const indexValueMap = {}
  for (let i = 0; i < entries; i++) indexValueMap[index()] = { valueMac: mac() }
  return { version: 1, hash: randomBytes(128), indexValueMap }
}

/** The next value of a version, as Baileys makes one (a new object, a shallow copy of the map), or an odd shape. */
function next(state) {
  const kind = rnd(20)
  if (state === null || kind === 0) return fresh(rnd(3) === 0 ? 0 : rnd(300))
  const indexValueMap = { ...state.indexValueMap }
  const keys = Object.keys(indexValueMap)
  if (kind === 1) for (const k of keys) delete indexValueMap[k] // shrink to nothing
  else if (kind === 2 && keys.length > 0) indexValueMap[keys[0]] = { valueMac: mac(), extra: 1 } // not a plain { valueMac }
  else if (kind === 3) indexValueMap.type = { valueMac: mac() } // stored whole
  else if (kind === 4 && keys.length > 0) indexValueMap[keys[0]] = { valueMac: randomBytes(16) } // a short mac
  else {
    for (let i = rnd(4); i > 0 && keys.length > 0; i--) indexValueMap[keys[rnd(keys.length)]] = { valueMac: mac() }
    for (let i = rnd(4); i > 0 && keys.length > 0; i--) delete indexValueMap[keys[rnd(keys.length)]]
    for (let i = rnd(6); i > 0; i--) indexValueMap[index()] = { valueMac: mac() }
  }
  if (kind === 5) delete indexValueMap.type
  return { ...state, version: state.version + 1, hash: randomBytes(128), indexValueMap }
}

for (const backend of ['sqlite', 'redis']) {
test(`${backend}: a random sequence of app-state writes through an owner reads back as the model: by the owner, by another store, in listKeys and stats`, async (t) => {
  t.log(`seed ${seed} (replay with REVIEW13_SEED=${seed})`)
  if (backend === 'redis' && !requireRedis(t)) return
  const url = backend === 'redis' ? (await startRedis()).url : tempDb().url
  const handle = await useRustAuthState('s', { store: url, cacheBytes: 256 * 1024 })
  const other = await openStore(url)
  t.teardown(async () => {
    await handle.close()
    await other.close()
  })
  const model = Object.fromEntries(IDS.map((id) => [id, null]))
  for (let step = 0; step < 300; step++) {
    const inFlight = []
    for (let burst = 1 + rnd(4); burst > 0; burst--) {
      const data = {}
      // One batch in eight is refused whole (another type's value cannot be stored): none of
      // its app-state changes may reach the store or the cache.
      const refused = rnd(8) === 0
      const staged = {}
      for (const id of IDS) {
        if (rnd(3) !== 0) continue
        const value = rnd(15) === 0 ? null : next(model[id])
        data[id] = value
        staged[id] = value === null ? null : clone(value)
      }
      // (An empty batch is skipped: on Redis a group of only empty batches fails, see
      // review13-group.test.mjs.)
      if (Object.keys(data).length === 0) continue
      if (refused) {
        inFlight.push(t.throwsAsync(handle.state.keys.set({ [TYPE]: data, session: { bad: { n: 10n } } }), { code: 'ERR_INVALID_ARG' }))
      } else {
        Object.assign(model, staged)
        inFlight.push(handle.state.keys.set({ [TYPE]: data }))
      }
      // A get issued after un-awaited sets sees them.
      if (rnd(4) === 0) {
        const expected = clone(model)
        inFlight.push(handle.state.keys.get(TYPE, IDS).then((got) => t.deepEqual(got, expected, `step ${step}: owner read in flight`)))
      }
      if (rnd(3) === 0) break
    }
    await Promise.all(inFlight)
    const snapshot = clone(model)
    if (rnd(3) === 0) t.deepEqual(await handle.state.keys.get(TYPE, IDS), snapshot, `step ${step}: owner`)
    if (rnd(3) === 0) t.deepEqual(await other.getKeys('s', TYPE, IDS), snapshot, `step ${step}: another store`)
    if (rnd(10) === 0) {
      const present = IDS.filter((id) => model[id] !== null).sort()
      const listed = (await other.listKeys('s')).filter((k) => k.type === TYPE).map((k) => k.id)
      t.deepEqual(listed, present, `step ${step}: listKeys`)
      const stats = await other.stats('s')
      t.is(stats.keys[TYPE]?.count ?? 0, present.length, `step ${step}: stats count`)
      // No piece outlives its version.
      const raw = wire.readKeyList(await nativeOf(other).listKeys('s')).filter((k) => k.type === TYPE)
      for (const { id } of raw) t.true(present.includes(id.split('\u0000')[0]), `step ${step}: ${JSON.stringify(id)} belongs to a live version`)
    }
  }
  t.deepEqual(await other.getKeys('s', TYPE, IDS), model)
})
}

test('a whole value of version 4 migrated to Redis, patched there by an owner, and migrated back reads as the last patch everywhere', async (t) => {
  if (!requireRedis(t)) return
  const { migrate } = await import('../index.mjs')
  const codec = require('../lib/codec.js')
  const redis = await startRedis()
  const first = tempDb().url
  const src = await openStore(first)
  await src.setCreds('s', { me: 1 })
  const old = fresh(400)
  await nativeOf(src).setKeys('s', wire.encodeRawBatch([{ type: TYPE, id: 'regular', blob: codec.encodeBlob(old) }]))
  await src.close()
  await migrate({ from: first, to: redis.url, session: 's' })
  const owner = await useRustAuthState('s', { store: redis.url })
  t.deepEqual((await owner.state.keys.get(TYPE, ['regular'])).regular, old)
  let state = old
  for (let i = 0; i < 5; i++) {
    state = next(state)
    await owner.state.keys.set({ [TYPE]: { regular: state } })
  }
  await owner.close()
  const back = tempDb().url
  await migrate({ from: redis.url, to: back, session: 's' })
  const other = await openStore(back)
  t.teardown(() => other.close())
  t.deepEqual((await other.getKeys('s', TYPE, ['regular'])).regular, state)
  t.deepEqual((await other.listKeys('s')).filter((k) => k.type === TYPE).map((k) => k.id), ['regular'])
  // And over the original file (overwrite), where the whole value was.
  await migrate({ from: redis.url, to: first, session: 's', overwrite: true })
  const again = await openStore(first)
  t.teardown(() => again.close())
  t.deepEqual((await again.getKeys('s', TYPE, ['regular'])).regular, state)
})
