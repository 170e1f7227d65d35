// fanout: a group send. One sender holds real Signal sessions with 256 devices (128 users × 2
// devices); each round is shaped like Baileys' relayMessage: one keys.transaction around the
// whole send, assertSessions' validateSession (one `get` per device), encryptMessage to every
// device concurrently (createParticipantNodes), then the transaction's single commit, one `set`
// of all the updated sessions. Only the sender is on the store under test. Its creds and
// sessions come from the fixtures (X3DH with 256 bundles costs seconds of pure-JS curve math,
// the same for every store) and are written to the store before the clock starts. After the
// clock stops three receivers decrypt the last round, so a store that lost or mangled a
// session cannot look fast.
import assert from 'node:assert/strict'

import { FANOUT_SENDER } from '../lib/fixtures.mjs'
import { Latencies, nextTurn } from '../lib/stats.mjs'
import { open as openMemory } from '../peers/memory-map.mjs'

export const metrics = {
  roundsPerSec: { label: 'fanout: relayMessage rounds', short: 'fanout', unit: 'rounds/s', higher: true },
}

export async function run({ baileys, devices, open, sizes, fixtures, measure }) {
  const { makeDevice } = devices
  const { senderCreds, sessions, receivers } = fixtures.fanout
  const backend = await open()
  const auth = await backend.use('sender')
  Object.assign(auth.state.creds, senderCreds) // in place: some peers' saveCreds close over it
  await auth.saveCreds()
  await auth.state.keys.set({ session: sessions })
  const sender = await makeDevice(baileys, auth, { jid: FANOUT_SENDER })
  const jids = receivers.map((r) => r.jid)

  const meId = sender.auth.state.creds.me.id
  const rounds = new Latencies()
  let last
  const { ms, eld } = await measure(async () => {
    for (let round = 0; round < sizes.fanoutRounds; round++) {
      const data = baileys.encodeWAMessage({ conversation: `round ${round}` })
      last = await rounds.time(() =>
        sender.keys.transaction(async () => {
          for (const jid of jids) {
            const { exists } = await sender.repo.validateSession(jid)
            if (!exists) throw new Error(`no session with ${jid}`)
          }
          return Promise.all(jids.map((jid) => sender.repo.encryptMessage({ jid, data })))
        }, meId),
      )
      await nextTurn() // each send is its own event in an app
    }
  })

  for (const k of [0, receivers.length >> 1, receivers.length - 1]) {
    const { jid, creds, preKeys } = receivers[k]
    const receiverAuth = await (await openMemory({ baileys })).use(jid)
    Object.assign(receiverAuth.state.creds, creds)
    await receiverAuth.state.keys.set({ 'pre-key': preKeys })
    const receiver = await makeDevice(baileys, receiverAuth, { jid })
    const { type, ciphertext } = last[k]
    const plain = await receiver.repo.decryptMessage({ jid: FANOUT_SENDER, type, ciphertext })
    const text = baileys.proto.Message.decode(baileys.unpadRandomMax16(plain)).conversation
    assert.equal(text, `round ${sizes.fanoutRounds - 1}`, `receiver ${jid} decrypted something else`)
  }
  const r = rounds.summary()
  return { roundsPerSec: (sizes.fanoutRounds / ms) * 1000, roundP50Ms: r.p50, roundP99Ms: r.p99, eld }
}
