// prekeys: what pairing does. Baileys (>= 7.0.0-rc.9) uploads 812 pre-keys in one commit, then
// reads them back one by one as peers fetch bundles. One `set` of 812 fresh {public, private}
// key pairs made by Baileys' own Curve.generateKeyPair (made before the clock starts: the
// curve math is the same for every store), then single-id `get`s in a fixed random order.
// Raw store calls: this is exactly the one `set` that addTransactionCapability commits.
import assert from 'node:assert/strict'

import { Latencies, prng } from '../lib/stats.mjs'

export const metrics = {
  setMs: { label: 'pre-keys: one set of the batch', short: 'prekeys set', unit: 'ms', higher: false },
  getOpsPerSec: { label: 'pre-keys: single-id gets', short: 'prekeys get', unit: 'ops/s', higher: true },
}

export async function run({ baileys, open, sizes, measure }) {
  const backend = await open()
  const { state } = await backend.use('prekeys')
  const preKeys = {}
  for (let id = 1; id <= sizes.preKeys; id++) preKeys[id] = baileys.Curve.generateKeyPair()
  const rand = prng(812)
  const ids = Array.from({ length: sizes.preKeyGets }, () => String(1 + Math.floor(rand() * sizes.preKeys)))

  const gets = new Latencies()
  let setMs, getMs
  const { eld } = await measure(async () => {
    const t0 = performance.now()
    await state.keys.set({ 'pre-key': preKeys })
    setMs = performance.now() - t0
    const t1 = performance.now()
    for (const id of ids) {
      const { [id]: pair } = await gets.time(() => state.keys.get('pre-key', [id]))
      // Checked inside the loop: a store that returned the wrong bytes must not look fast.
      assert.ok(Buffer.from(pair.public).equals(preKeys[id].public), `pre-key ${id} came back different`)
    }
    getMs = performance.now() - t1
  })
  const g = gets.summary()
  return { setMs, getOpsPerSec: (ids.length / getMs) * 1000, getP50Ms: g.p50, getP99Ms: g.p99, eld }
}
