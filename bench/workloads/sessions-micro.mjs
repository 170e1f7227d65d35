// sessions-micro: the hottest key of all, one Signal session, read and rewritten. The records
// are real: two devices exchange a short conversation through Baileys over the store under
// test, and after each of its last few messages the sender's `session` value is read back from
// that store (~1.9 KB as BufferJSON). Then alternating raw `get`/`set` of that one id (no
// transaction wrapper: this measures the store call itself), each `set` writing the next of
// those consecutive versions, as every real session write changes the record. (Rewriting the
// very same bytes would be unrealistically cheap: SQLite skips writing a row whose bytes did
// not change, so such a commit writes and fsyncs nothing.)
import assert from 'node:assert/strict'

import { Latencies } from '../lib/stats.mjs'

export const metrics = {
  opsPerSec: { label: 'sessions-micro: get/set', short: 'sessions-micro', unit: 'ops/s', higher: true },
}

const ALICE = '15550000001@s.whatsapp.net'
const BOB = '15550000002@s.whatsapp.net'
/** Consecutive versions of the record that the `set`s cycle through. */
const VERSIONS = 8

export async function run({ baileys, devices, open, sizes, measure }) {
  const { makeDevice, sendDirect, startSession } = devices
  const { replacer, reviver } = baileys.BufferJSON
  const backend = await open()
  const alice = await makeDevice(baileys, await backend.use('alice'), { jid: ALICE, preKeyCount: 2 })
  const bob = await makeDevice(baileys, await backend.use('bob'), { jid: BOB, preKeyCount: 2 })
  const id = alice.repo.jidToSignalProtocolAddress(BOB)
  const keys = alice.auth.state.keys // the raw store, not addTransactionCapability's wrapper
  await startSession(alice, bob)
  const records = []
  for (let i = 0; i < sizes.microWarmupMessages + VERSIONS; i++) {
    await (i % 2 ? sendDirect(bob, alice, `m${i}`) : sendDirect(alice, bob, `m${i}`))
    if (i >= sizes.microWarmupMessages) {
      const { [id]: record } = await keys.get('session', [id])
      assert.ok(record, 'no session record was stored')
      // A private copy: the memory Map peer hands out the very object Baileys keeps using.
      records.push(JSON.parse(JSON.stringify(record, replacer), reviver))
    }
  }
  const recordBytes = JSON.stringify(records[0], replacer).length

  const gets = new Latencies()
  const sets = new Latencies()
  const { ms, eld } = await measure(async () => {
    for (let i = 0; i < sizes.microOps; i++) {
      if (i % 2 === 0) {
        const got = await gets.time(() => keys.get('session', [id]))
        if (!got[id]) throw new Error('session record disappeared')
      } else {
        const record = records[(i >> 1) % VERSIONS]
        await sets.time(() => keys.set({ session: { [id]: record } }))
      }
    }
  })
  const g = gets.summary()
  const s = sets.summary()
  return {
    opsPerSec: (sizes.microOps / ms) * 1000,
    getP50Ms: g.p50, getP99Ms: g.p99, setP50Ms: s.p50, setP99Ms: s.p99,
    recordBytes, eld,
  }
}
