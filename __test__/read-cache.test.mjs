// The SQLite read cache (src/core/read_cache.rs) answers reads without the trip to the store's
// thread. What matters is that it never answers with a value the database no longer holds:
// not after another connection, another process, or this store itself has written.
import test from 'ava'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'

import { openStore } from '../index.mjs'
import { tempDb } from './helpers/temp.mjs'

const require = createRequire(import.meta.url)
const { NativeStore } = require('../binding.js')
const codec = require('../lib/codec.js')

const value = (n) => ({ n, pad: randomBytes(64).toString('base64') })

test('the cache answers repeated reads, and only the values it was given', async (t) => {
  const { url } = tempDb()
  const native = await NativeStore.open(url)
  t.true(native.hasReadCache)
  for (const other of ['memory:', 'sqlite::memory:']) {
    const store = await NativeStore.open(other)
    t.false(store.hasReadCache, `${other} keeps no read cache`)
    await store.close()
  }
  await native.setKeys('s', codec.encodeBatch({ session: { a: value(1) } }))
  t.is(native.getKeysCached('s', 'session', ['missing']), null, 'never read nor written: the cache does not know it')
  const read = codec.decodeResults(await native.getKeys('s', 'session', ['a', 'missing']), ['a', 'missing'])
  const cached = native.getKeysCached('s', 'session', ['a', 'missing'])
  t.truthy(cached, 'answered from the cache after one read')
  t.deepEqual(codec.decodeResults(cached, ['a', 'missing']), read)
  t.is(native.getKeysCached('s', 'session', ['a', 'other']), null, 'an id it has not seen')
  t.is(native.getKeysCached('other', 'session', ['a']), null, 'another session')
  t.is(native.getKeysCached('s', 'session', 'a'), null, 'bad arguments are left to getKeys')

  // A pending read does not stop it: both read the same state.
  const slowRead = native.getKeys('s', 'session', ['a', 'other'])
  t.truthy(native.getKeysCached('s', 'session', ['a']), 'a read is pending')
  await slowRead

  // Its own writes go into the cache once committed; while one is pending it answers nothing.
  const pending = native.setKeys('s', codec.encodeBatch({ session: { a: value(2) } }))
  t.is(native.getKeysCached('s', 'session', ['a']), null, 'a write is pending')
  await pending
  t.is(codec.decodeResults(native.getKeysCached('s', 'session', ['a']), ['a']).a.n, 2)
  await native.setKeys('s', codec.encodeBatch({ session: { a: null } }))
  t.deepEqual(codec.decodeResults(native.getKeysCached('s', 'session', ['a']), ['a']), { a: null })
  await native.clearKeys('s')
  t.is(native.getKeysCached('s', 'session', ['a']), null, 'cleared sessions are forgotten')
  await native.getKeys('s', 'session', ['a'])
  t.truthy(native.getKeysCached('s', 'session', ['a']))
  await native.close()
  t.is(native.getKeysCached('s', 'session', ['a']), null, 'a closed store answers nothing')
})

test('a closed store rejects reads it had cached', async (t) => {
  const store = await openStore(tempDb().url)
  await store.setKeys('s', { session: { a: { v: 1 } } })
  await store.getKeys('s', 'session', ['a'])
  await store.close()
  await t.throwsAsync(store.getKeys('s', 'session', ['a']), { code: 'ERR_STORE_CLOSED' })
})

test('every write through another connection is seen at once, never a stale value', async (t) => {
  const { url } = tempDb()
  const [a, b] = [await openStore(url), await openStore(url)]
  const ids = ['x', 'y', 'z']
  const truth = {}
  for (let i = 0; i < 600; i++) {
    const [reader, writer] = i % 3 === 0 ? [b, a] : [a, b]
    const id = ids[i % ids.length]
    // Warm the reader's cache, then change the value behind its back.
    await reader.getKeys('s', 'session', ids)
    const next = i % 7 === 0 ? null : { n: i, pad: 'p'.repeat(i % 5 === 0 ? 5000 : 10) }
    if (i % 50 === 25) {
      await writer.clearKeys('s')
      for (const k of ids) delete truth[k]
    } else {
      await writer.setKeys('s', { session: { [id]: next } })
      truth[id] = next
    }
    const seen = await reader.getKeys('s', 'session', ids)
    t.deepEqual(seen, Object.fromEntries(ids.map((k) => [k, truth[k] ?? null])), `step ${i}`)
    // One id at a time too: reading one must not leave a stale neighbour in the cache.
    for (const k of i % 2 ? ids : [...ids].reverse()) {
      t.deepEqual(await reader.getKeys('s', 'session', [k]), { [k]: truth[k] ?? null }, `step ${i}, ${k} alone`)
    }
    const other = i % 3 === 0 ? a : b
    await other.getKeys('s', 'session', [ids[(i + 1) % ids.length]])
    await writer.setKeys('s', { session: { [ids[(i + 2) % ids.length]]: { late: i } } })
    truth[ids[(i + 2) % ids.length]] = { late: i }
    for (const k of ids) t.deepEqual(await reader.getKeys('s', 'session', [k]), { [k]: truth[k] ?? null }, `step ${i}, after a late write, ${k}`)
  }
  await Promise.all([a.close(), b.close()])
})

test("another process's writes are seen at once", async (t) => {
  const { url } = tempDb()
  const store = await openStore(url)
  await store.setKeys('s', { 'pre-key': { 1: { n: -1 } } })
  const writer = spawn(process.execPath, [
    '--input-type=module',
    '-e',
    `
    import { openStore } from ${JSON.stringify(new URL('../index.mjs', import.meta.url).href)}
    const store = await openStore(${JSON.stringify(url)})
    let n = 0
    process.stdin.on('data', async () => {
      await store.setKeys('s', { 'pre-key': { 1: { n: n } } })
      process.stdout.write('wrote ' + n++ + '\\n')
      if (n === 200) { await store.close(); process.exit(0) }
    })
    process.stdout.write('ready\\n')
    `,
  ])
  const lines = []
  let wake
  writer.stdout.on('data', (chunk) => {
    lines.push(...String(chunk).split('\n').filter(Boolean))
    wake?.()
  })
  const nextLine = async () => {
    while (lines.length === 0) await new Promise((resolve) => (wake = resolve))
    return lines.shift()
  }
  t.is(await nextLine(), 'ready')
  for (let n = 0; n < 200; n++) {
    await store.getKeys('s', 'pre-key', ['1']) // warm
    writer.stdin.write('go\n')
    t.is(await nextLine(), `wrote ${n}`)
    t.deepEqual(await store.getKeys('s', 'pre-key', ['1']), { 1: { n } }, `write ${n}`)
  }
  await new Promise((resolve) => writer.on('exit', resolve))
  await store.close()
})

test('a read issued after a write, without awaiting it, sees that write', async (t) => {
  const store = await openStore(tempDb().url)
  await store.setKeys('s', { session: { a: { v: 1 } } })
  await store.getKeys('s', 'session', ['a']) // cached
  const write = store.setKeys('s', { session: { a: { v: 2 } } })
  const read = store.getKeys('s', 'session', ['a'])
  await write
  t.deepEqual(await read, { a: { v: 2 } })
  await store.close()
})
