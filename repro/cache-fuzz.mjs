// Differential fuzz of the owner cache: random un-awaited batches of keys.set (some failing
// mid-batch on an unencodable value), keys.get, keys.clear and deleteSession on one owning
// handle, against a model that applies them in issue order (the store's promise). Values
// include '__proto__' keys, big (>16 KB, lent) values, toJSON objects, nested arrays; returned
// values are mutated by the caller, passed values after the call. Checks every get, the final
// cache against the store, and the cache's byte accounting.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, useRustAuthState } from '../index.mjs'
const kind = process.argv[2] ?? 'sqlite'
let url, stop = async () => {}
if (kind === 'redis') {
  const { startRedis, stopAll } = await import('../__test__/helpers/redis-server.mjs')
  url = (await startRedis({ unixSocket: true })).url; stop = stopAll
} else url = `sqlite:${join(mkdtempSync(join(tmpdir(), 'repro-')), 'auth.db')}`
const seed = Number(process.argv[3] ?? 1)
let state = seed
const rnd = (n) => { state = (state * 1103515245 + 12345) & 0x7fffffff; return state % n }
const IDS = ['a', 'b', 'c', '__proto__', 'constructor', 'toString']
const json = (v) => (v === undefined ? null : JSON.parse(JSON.stringify(v)))
function value(i) {
  switch (rnd(7)) {
    case 0: return null
    case 1: return { n: i, s: 'x'.repeat(rnd(40)) }
    case 2: return { big: 'y'.repeat(17000 + rnd(5000)), n: i } // lent
    case 3: { const o = JSON.parse(`{"__proto__": {"polluted": ${i}}, "n": ${i}}`); return o }
    case 4: return { arr: [i, [i, { d: i }], 'z'], n: i }
    case 5: return { toJSON: () => ({ fromToJSON: i }) }
    default: return { n: i, nested: { deep: { deeper: i } } }
  }
}
const auth = await useRustAuthState('s', { store: url, cacheBytes: 60000, baileys: { initAuthCreds: () => ({}), proto: {} } })
let model = new Map() // id -> expected decoded value
const problems = []
let i = 0
const T = 'session'
for (let round = 0; round < 300; round++) {
  const pending = []
  for (let k = 0, n = 1 + rnd(6); k < n; k++) {
    const op = rnd(10)
    if (op < 5) {
      const data = { [T]: {} }
      const batch = []
      for (let m = 0, c = 1 + rnd(3); m < c; m++) { const id = IDS[rnd(IDS.length)]; const v = value(i++); data[T][id] = v; batch.push([id, v]) }
      const fail = rnd(8) === 0
      if (fail) data['pre-key'] = { bad: { n: 10n } } // unencodable: the whole batch must fail
      const expect = new Map(model)
      if (!fail) for (const [id, v] of batch) { if (v === null) expect.delete(id); else expect.set(id, json(v)) }
      const p = auth.state.keys.set(data).then(() => fail && problems.push(`round ${round}: a batch with an unencodable value was acknowledged`), (e) => !fail && problems.push(`round ${round}: set failed ${e.code} ${e.message}`))
      for (const [, v] of batch) if (v && typeof v === 'object' && 'n' in v) v.n = 'MUTATED-AFTER-SET'
      model = expect
      pending.push(p)
    } else if (op < 9) {
      const ids = [...new Set([IDS[rnd(IDS.length)], IDS[rnd(IDS.length)]])]
      const expect = ids.map((id) => [id, model.has(id) ? model.get(id) : null])
      pending.push(auth.state.keys.get(T, ids).then((got) => {
        for (const [id, v] of expect) {
          const g = Object.prototype.hasOwnProperty.call(got, id) ? got[id] : 'MISSING'
          if (JSON.stringify(g) !== JSON.stringify(v)) problems.push(`round ${round}: get ${id} = ${JSON.stringify(g)?.slice(0, 80)}, expected ${JSON.stringify(v)?.slice(0, 80)}`)
          if (g && typeof g === 'object') { g.n = 'MUTATED-RETURNED'; if (g.arr) g.arr[1][1].d = 'MUT' }
        }
        if (({}).polluted !== undefined) problems.push('prototype polluted')
      }))
    } else {
      const del = rnd(2) === 0
      pending.push((del ? auth.deleteSession() : auth.state.keys.clear()).catch((e) => problems.push(`clear failed ${e.code}`)))
      model = new Map()
    }
  }
  await Promise.all(pending)
  const c = auth.stats().cache
  if (c.bytes < 0 || c.bytes > c.maxBytes || (c.entries === 0) !== (c.bytes === 0)) problems.push(`round ${round}: cache accounting ${JSON.stringify(c)}`)
}
const direct = await openStore(url)
const inStore = await direct.getKeys('s', T, IDS)
const viaHandle = await auth.state.keys.get(T, IDS)
for (const id of IDS) if (JSON.stringify(inStore[id]) !== JSON.stringify(viaHandle[id])) problems.push(`final: ${id} store ${JSON.stringify(inStore[id])?.slice(0, 60)} handle ${JSON.stringify(viaHandle[id])?.slice(0, 60)}`)
console.log(`${kind} seed ${seed}: ${problems.length} problems`, problems.slice(0, 8), auth.stats().cache)
await direct.close(); await auth.close(); await stop()
