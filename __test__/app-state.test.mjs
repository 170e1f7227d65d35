// App-state versions (LTHashState) stored as a header and pieces (docs/format.md, "App-state
// versions"): whole values at every edge (keys.get, exportFolder, importFolder, migrate,
// listKeys, stats), incremental writes that write only the changed pieces, old whole values
// read and converted on their next write, deletes that leave no piece behind.
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

import { exportFolder, importFolder, migrate, openStore, useRustAuthState } from '../index.mjs'
import { requireRedis, startRedis, stopAll } from './helpers/redis-server.mjs'
import { tempDb, tempDir } from './helpers/temp.mjs'

const require = (await import('node:module')).createRequire(import.meta.url)
const { nativeOf } = require('../lib/store.js')
const wire = require('../lib/wire.js')
const codec = require('../lib/codec.js')
const appState = require('../lib/app-state.js')
const { BufferJSON } = await import('baileys')

test.after.always(stopAll)

const TYPE = 'app-state-sync-version'

/** A realistic LTHashState: `entries` indexes (base64 of 32 bytes) to 32-byte valueMacs. */
function lthashState(entries, version = 1) {
  const indexValueMap = {}
  for (let i = 0; i < entries; i++) indexValueMap[randomBytes(32).toString('base64')] = { valueMac: randomBytes(32) }
  return { version, hash: randomBytes(128), indexValueMap }
}

/** A patch as Baileys applies one: a new object, a shallow copy of the map, some entries set and removed. */
function patched(state, { add = 0, change = 0, remove = 0 } = {}) {
  const indexValueMap = { ...state.indexValueMap }
  const indexes = Object.keys(indexValueMap)
  for (let i = 0; i < change; i++) indexValueMap[indexes[i]] = { valueMac: randomBytes(32) }
  for (let i = 0; i < remove; i++) delete indexValueMap[indexes[indexes.length - 1 - i]]
  for (let i = 0; i < add; i++) indexValueMap[randomBytes(32).toString('base64')] = { valueMac: randomBytes(32) }
  return { ...state, version: state.version + 1, hash: randomBytes(128), indexValueMap }
}

/** The raw rows of the type as the native store lists them (header and pieces). */
async function rawIds(store, session) {
  return wire
    .readKeyList(await nativeOf(store).listKeys(session))
    .filter((k) => k.type === TYPE)
    .map((k) => k.id)
}

/** Counts the bytes of every keys batch sent to the native store (the real one, called through). */
function countWrites(store) {
  const native = nativeOf(store)
  const setKeys = native.setKeys.bind(native)
  const counter = { bytes: 0, batches: 0 }
  native.setKeys = (session, batch, fence) => {
    counter.bytes += batch.length
    counter.batches++
    return setKeys(session, batch, fence)
  }
  return counter
}

/** What a fresh store (no cache) reads back. */
async function readFresh(url, session, ids) {
  const store = await openStore(url)
  try {
    return await store.getKeys(session, TYPE, ids)
  } finally {
    await store.close()
  }
}

test('round trips exactly through the owner cache and a fresh store: added, changed, removed entries, an empty and a huge map', async (t) => {
  const url = tempDb().url
  const handle = await useRustAuthState('s', { store: url })
  let state = lthashState(2000)
  const empty = { version: 7, hash: randomBytes(128), indexValueMap: {} }
  const huge = lthashState(30000)
  await handle.state.keys.set({ [TYPE]: { regular: state, critical_block: empty, regular_low: huge } })
  for (const change of [{ change: 3 }, { add: 10 }, { remove: 5 }, { add: 2, change: 2, remove: 2 }, 'all']) {
    state = patched(state, change === 'all' ? { remove: Object.keys(state.indexValueMap).length } : change)
    await handle.state.keys.set({ [TYPE]: { regular: state } })
    const got = await handle.state.keys.get(TYPE, ['regular', 'critical_block', 'regular_low', 'missing'])
    t.deepEqual(got, { regular: state, critical_block: empty, regular_low: huge, missing: null })
    t.true(Buffer.isBuffer(got.regular.hash))
  }
  t.deepEqual(Object.keys(state.indexValueMap).length, 0, 'the last patch removed every entry')
  // A value from the cache is the caller's: mutating it changes nothing the store or cache hold.
  const mine = (await handle.state.keys.get(TYPE, ['regular_low'])).regular_low
  const someIndex = Object.keys(mine.indexValueMap)[0]
  mine.indexValueMap[someIndex].valueMac.fill(0)
  delete mine.indexValueMap[Object.keys(mine.indexValueMap)[1]]
  t.deepEqual((await handle.state.keys.get(TYPE, ['regular_low'])).regular_low, huge)
  await handle.close()
  t.deepEqual(await readFresh(url, 's', ['regular', 'critical_block', 'regular_low']), { regular: state, critical_block: empty, regular_low: huge })
})

test('an incremental write sends the header and the changed pieces only, and what it wrote reads back whole', async (t) => {
  const url = tempDb().url
  const handle = await useRustAuthState('s', { store: url })
  const writes = countWrites(handle.store)
  let state = lthashState(5000)
  await handle.state.keys.set({ [TYPE]: { regular_high: state } })
  const full = writes.bytes
  t.true(full > 5000 * 64, `the first write is the whole value (${full} bytes)`)
  for (let i = 0; i < 5; i++) {
    writes.bytes = 0
    state = patched(state, { change: 1 })
    await handle.state.keys.set({ [TYPE]: { regular_high: state } })
    // The header (128-byte hash) and one piece of ~5000/64 entries: about 7 KB.
    t.true(writes.bytes < full / 20, `a one-entry patch wrote ${writes.bytes} bytes, the whole value ${full}`)
  }
  // The store holds the result (read by a store that never saw the writes).
  t.deepEqual((await readFresh(url, 's', ['regular_high'])).regular_high, state)
  // Mutating the value after set does not change what was written or cached.
  const written = structuredClone(state)
  state.indexValueMap[Object.keys(state.indexValueMap)[0]].valueMac.fill(7)
  state.version = 99
  const got = (await handle.state.keys.get(TYPE, ['regular_high'])).regular_high
  t.is(got.version, written.version)
  t.deepEqual(got.indexValueMap, (await readFresh(url, 's', ['regular_high'])).regular_high.indexValueMap)
  // An in-place change of a valueMac's bytes is a change.
  writes.bytes = 0
  await handle.state.keys.set({ [TYPE]: { regular_high: state } })
  t.true(writes.bytes > 0 && writes.bytes < full / 20)
  t.deepEqual((await readFresh(url, 's', ['regular_high'])).regular_high, state)
  await handle.close()
})

test('without a cache (lease: false, cacheBytes: 0) every write is whole pieces and reads are whole values', async (t) => {
  const url = tempDb().url
  for (const options of [{ lease: false }, { cacheBytes: 0 }]) {
    const handle = await useRustAuthState('s', { store: url, ...options })
    let state = lthashState(300)
    await handle.state.keys.set({ [TYPE]: { regular: state } })
    state = patched(state, { add: 3, change: 3, remove: 3 })
    await handle.state.keys.set({ [TYPE]: { regular: state } })
    t.deepEqual((await handle.state.keys.get(TYPE, ['regular'])).regular, state)
    t.deepEqual((await readFresh(url, 's', ['regular'])).regular, state)
    await handle.close()
  }
})

test('a whole value of an older version reads as it is and is split on its next write; delete removes every piece', async (t) => {
  const url = tempDb().url
  const store = await openStore(url)
  await store.setCreds('s', { me: 1 })
  const old = lthashState(500)
  // As version 4 wrote it: one row, the whole value.
  await nativeOf(store).setKeys('s', wire.encodeRawBatch([{ type: TYPE, id: 'regular', blob: codec.encodeBlob(old) }]))
  t.deepEqual(await rawIds(store, 's'), ['regular'])
  t.deepEqual((await store.getKeys('s', TYPE, ['regular'])).regular, old)
  await store.close()

  const handle = await useRustAuthState('s', { store: url })
  t.deepEqual((await handle.state.keys.get(TYPE, ['regular'])).regular, old)
  const next = patched(old, { change: 1 })
  await handle.state.keys.set({ [TYPE]: { regular: next } })
  const ids = await rawIds(handle.store, 's')
  t.true(ids.length > 40 && ids.includes('regular') && ids.every((id) => id === 'regular' || id.startsWith('regular\u0000')), 'split into a header and pieces')
  t.true(appState.isHeader(codec.decodeValue(wire.splitResults(await nativeOf(handle.store).getKeys('s', TYPE, ['regular']), 1)[0])))
  t.deepEqual((await handle.state.keys.get(TYPE, ['regular'])).regular, next)
  t.deepEqual((await readFresh(url, 's', ['regular'])).regular, next, 'the conversion wrote every piece')
  // Users see one key of the type, whatever the pieces.
  const listed = (await handle.store.listKeys('s')).filter((k) => k.type === TYPE)
  t.deepEqual(listed.map((k) => k.id), ['regular'])
  t.true(listed[0].bytes > 500 * 64)
  t.is((await handle.store.stats('s')).keys[TYPE].count, 1)

  await handle.state.keys.set({ [TYPE]: { regular: null } })
  t.deepEqual(await rawIds(handle.store, 's'), [], 'no piece outlives its value')
  t.deepEqual(await handle.state.keys.get(TYPE, ['regular']), { regular: null })
  // A value written whole (not an LTHashState) over a split one removes its pieces too.
  await handle.state.keys.set({ [TYPE]: { regular: next } })
  await handle.state.keys.set({ [TYPE]: { regular: { version: 3 } } })
  t.deepEqual(await rawIds(handle.store, 's'), ['regular'])
  t.deepEqual(await readFresh(url, 's', ['regular']), { regular: { version: 3 } })
  // keys.clear and deleteSession leave nothing.
  await handle.state.keys.set({ [TYPE]: { regular: next } })
  await handle.state.keys.clear()
  t.deepEqual(await rawIds(handle.store, 's'), [])
  await handle.state.keys.set({ [TYPE]: { regular: next } })
  await handle.deleteSession()
  t.deepEqual(await rawIds(handle.store, 's'), [])
  await handle.close()
})

test('ids that name pieces are refused and write nothing; a field the format uses is refused', async (t) => {
  const url = tempDb().url
  const handle = await useRustAuthState('s', { store: url })
  const state = lthashState(10)
  await handle.state.keys.set({ [TYPE]: { regular: state } })
  const before = await rawIds(handle.store, 's')
  await t.throwsAsync(handle.state.keys.set({ [TYPE]: { 'regular\u00003': state, regular: null } }), { code: 'ERR_INVALID_ARG' })
  await t.throwsAsync(handle.state.keys.set({ [TYPE]: { other: { [appState.PIECE_COUNT_FIELD]: 64 } } }), { code: 'ERR_INVALID_ARG' })
  t.deepEqual(await rawIds(handle.store, 's'), before)
  t.deepEqual(await handle.state.keys.get(TYPE, ['regular', 'regular\u00003']), { regular: state, 'regular\u00003': null })
  await handle.close()
})

test('a failed write and a fenced write leave the previous state, and the next write is still right', async (t) => {
  const url = tempDb().url
  const handle = await useRustAuthState('s', { store: url })
  const first = lthashState(1000)
  await handle.state.keys.set({ [TYPE]: { regular: first } })
  // The whole batch is refused (a value the codec cannot store): nothing of it is written.
  const failing = patched(first, { change: 5, remove: 5 })
  await t.throwsAsync(handle.state.keys.set({ [TYPE]: { regular: failing }, 'pre-key': { 1: { f: () => 1 } } }), { code: 'ERR_INVALID_ARG' })
  t.deepEqual((await handle.state.keys.get(TYPE, ['regular'])).regular, first)
  t.deepEqual((await readFresh(url, 's', ['regular'])).regular, first)
  const second = patched(failing, { change: 1 })
  await handle.state.keys.set({ [TYPE]: { regular: second } })
  t.deepEqual((await readFresh(url, 's', ['regular'])).regular, second)

  const taker = await useRustAuthState('s', { store: url, takeover: true })
  await t.throwsAsync(handle.state.keys.set({ [TYPE]: { regular: patched(second, { change: 3 }) } }), { code: 'ERR_SESSION_FENCED' })
  t.deepEqual((await taker.state.keys.get(TYPE, ['regular'])).regular, second)
  await handle.close().catch(() => {})
  await taker.close()
})

test('exportFolder writes whole app-state-sync-version files, importFolder and migrate give whole values', async (t) => {
  const dir = tempDir()
  const url = `sqlite:${join(dir, 'a.db')}`
  const handle = await useRustAuthState('s', { store: url })
  await handle.saveCreds()
  let state = lthashState(3000)
  await handle.state.keys.set({ [TYPE]: { regular: state } })
  state = patched(state, { add: 1, change: 1, remove: 1 })
  await handle.state.keys.set({ [TYPE]: { regular: state }, 'pre-key': { 1: { public: randomBytes(32) } } })
  await handle.close()

  const folder = join(dir, 'folder')
  const exported = await exportFolder(folder, { session: 's', store: url })
  t.is(exported.keys, 2)
  const files = readdirSync(folder).sort()
  t.deepEqual(files, ['app-state-sync-version-regular.json', 'creds.json', 'pre-key-1.json'])
  t.deepEqual(JSON.parse(readFileSync(join(folder, 'app-state-sync-version-regular.json'), 'utf8'), BufferJSON.reviver), state)

  const imported = `sqlite:${join(dir, 'b.db')}`
  await importFolder(folder, { session: 's', store: imported })
  t.deepEqual(await readFresh(imported, 's', ['regular']), { regular: state })

  const migrated = `sqlite:${join(dir, 'c.db')}`
  await migrate({ from: url, to: migrated, session: 's' })
  t.deepEqual(await readFresh(migrated, 's', ['regular']), { regular: state })
  const store = await openStore(migrated)
  t.true((await rawIds(store, 's')).length > 40, 'migrate copies the pieces as they are')
  await store.close()
})

test('on Redis: incremental writes, whole reads, delete removes every piece, migrate from SQLite', async (t) => {
  if (!requireRedis(t)) return
  const redis = await startRedis()
  const url = redis.url
  const handle = await useRustAuthState('s', { store: url })
  const writes = countWrites(handle.store)
  let state = lthashState(5000)
  await handle.state.keys.set({ [TYPE]: { regular_high: state } })
  const full = writes.bytes
  writes.bytes = 0
  state = patched(state, { change: 1, add: 1, remove: 1 })
  await handle.state.keys.set({ [TYPE]: { regular_high: state } })
  t.true(writes.bytes < full / 10, `${writes.bytes} of ${full} bytes`)
  t.deepEqual((await handle.state.keys.get(TYPE, ['regular_high'])).regular_high, state)
  t.deepEqual((await readFresh(url, 's', ['regular_high'])).regular_high, state)
  await handle.state.keys.set({ [TYPE]: { regular_high: null } })
  t.deepEqual(await rawIds(handle.store, 's'), [])
  await handle.close()

  const sqlite = tempDb().url
  const other = await useRustAuthState('m', { store: sqlite })
  await other.saveCreds()
  await other.state.keys.set({ [TYPE]: { regular: state } })
  await other.close()
  await migrate({ from: sqlite, to: url, session: 'm' })
  t.deepEqual(await readFresh(url, 'm', ['regular']), { regular: state })
})

test('the piece of an index is FNV-1a (32 bits) modulo 64, as docs/format.md says: stored layouts depend on it', (t) => {
  // FNV-1a of '' is the offset basis 0x811c9dc5, of 'a' the published vector 0xe40c292c.
  t.is(appState.pieceOf(''), 0x811c9dc5 % 64)
  t.is(appState.pieceOf('a'), 0xe40c292c % 64)
  t.is(appState.pieceOf('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='), 0x4da41765 % 64)
  t.is(appState.pieceOf('ü'), 0x790b80bb % 64, 'a UTF-16 code unit is XORed in whole')
  // How expandBatch lays a value out: the header under its id, each entry in its piece.
  const state = lthashState(200)
  const expanded = appState.expandBatch({ [TYPE]: { regular: state } })[TYPE]
  t.deepEqual(Object.keys(expanded.regular).sort(), ['\u0000pieces', 'hash', 'version'])
  for (const index of Object.keys(state.indexValueMap)) {
    t.is(expanded[`regular\u0000${appState.pieceOf(index)}`][index], state.indexValueMap[index])
  }
})
