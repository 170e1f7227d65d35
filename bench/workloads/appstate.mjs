// appstate: the biggest value Baileys writes. An `app-state-sync-version` (LTHashState) with
// thousands of index entries is rewritten whole on every app-state patch and read back on the
// next. Each iteration bumps the version, changes one entry's MAC (as a patch does), sets it
// and gets it back (raw store calls; the value came back right is checked every time).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'

import { Latencies, nextTurn } from '../lib/stats.mjs'

export const metrics = {
  opsPerSec: { label: 'appstate: set+get of the version', short: 'appstate', unit: 'ops/s', higher: true },
}

export async function run({ baileys, open, sizes, measure }) {
  const backend = await open()
  const { state } = await backend.use('appstate')
  const indexValueMap = {}
  const indexes = []
  for (let i = 0; i < sizes.appstateEntries; i++) {
    const index = randomBytes(32).toString('base64')
    indexes.push(index)
    indexValueMap[index] = { valueMac: randomBytes(32) }
  }
  const version = { version: 1, hash: randomBytes(128), indexValueMap }

  const sets = new Latencies()
  const gets = new Latencies()
  const { ms, eld } = await measure(async () => {
    for (let i = 0; i < sizes.appstateIterations; i++) {
      version.version++
      indexValueMap[indexes[i % indexes.length]] = { valueMac: randomBytes(32) }
      await sets.time(() => state.keys.set({ 'app-state-sync-version': { regular_high: version } }))
      const { regular_high: got } = await gets.time(() => state.keys.get('app-state-sync-version', ['regular_high']))
      assert.equal(got.version, version.version)
      await nextTurn()
    }
  })
  const { regular_high: got } = await state.keys.get('app-state-sync-version', ['regular_high'])
  assert.equal(Object.keys(got.indexValueMap).length, sizes.appstateEntries)
  assert.ok(Buffer.from(got.hash).equals(version.hash))
  const s = sets.summary()
  const g = gets.summary()
  return {
    opsPerSec: (sizes.appstateIterations / ms) * 1000,
    setP50Ms: s.p50, setP99Ms: s.p99, getP50Ms: g.p50, getP99Ms: g.p99,
    valueBytes: JSON.stringify(version, baileys.BufferJSON.replacer).length, // as BufferJSON text
    eld,
  }
}
