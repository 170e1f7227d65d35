// Defect probe: a keys.get issued just BEFORE an un-awaited keys.set of the same key. The get
// misses the cache and reads the store (old value); the set then completes and writeDone()
// deletes the key's #lastWrite entry, so when the read's fill() runs it no longer sees that a
// write was issued after it and caches the OLD value. Later gets are served stale from cache.
// Usage: node repro/cache-stale-fill.mjs [sqlite|redis]
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, useRustAuthState } from '../index.mjs'

const kind = process.argv[2] ?? 'sqlite'
let url
let stop = async () => {}
if (kind === 'redis') {
  const { startRedis, stopAll } = await import('../__test__/helpers/redis-server.mjs')
  url = (await startRedis({ unixSocket: true })).url
  stop = stopAll
} else url = `sqlite:${join(mkdtempSync(join(tmpdir(), 'repro-')), 'auth.db')}`
const BAILEYS = { initAuthCreds: () => ({ me: { id: 'x' } }), proto: {} }

let stale = 0
const N = 200
for (let i = 0; i < N; i++) {
  const auth = await useRustAuthState('s' + i, { store: url, baileys: BAILEYS })
  // Put v0 in the store without the cache knowing it: evict by a second handle? simplest: write, then
  // reopen (a new handle starts with an empty cache).
  await auth.state.keys.set({ session: { k: { v: 0 } } })
  await auth.close()
  const again = await useRustAuthState('s' + i, { store: url, baileys: BAILEYS })
  const read = again.state.keys.get('session', ['k']) // miss: reads the store (v0)
  const write = again.state.keys.set({ session: { k: { v: 1 } } }) // issued after: the store applies it after the read
  if (process.env.BUSY) { const t = Date.now() + Number(process.env.BUSY); while (Date.now() < t) {} } // both complete natively before JS looks
  const [first] = await Promise.all([read, write])
  const later = await again.state.keys.get('session', ['k'])
  const tool = await openStore(url)
  const inStore = await tool.getKeys('s' + i, 'session', ['k'])
  await tool.close()
  if (later.k?.v !== inStore.k?.v) {
    stale++
    if (stale === 1) console.log(`iteration ${i}: first get ${JSON.stringify(first)}; later get ${JSON.stringify(later)} but the store holds ${JSON.stringify(inStore)}; cache`, again.stats().cache)
  }
  await again.close()
}
console.log(`${kind}: ${stale}/${N} runs served a stale value from the owner's cache`)
await stop()
