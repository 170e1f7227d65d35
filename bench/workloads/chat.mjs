// chat: a long 1:1 conversation, end to end through Baileys' Signal repository over the store
// under test. Both devices live in the store; messages alternate direction, so every message
// is a DH ratchet step, and every plaintext is checked. The session record grows as libsignal
// keeps old chains (~100 KB by 2,000 messages), which is what makes long chats expensive for
// stores that serialise JSON text.
import { Latencies, nextTurn } from '../lib/stats.mjs'

export const metrics = {
  msgsPerSec: { label: 'chat: messages (encrypt+decrypt)', short: 'chat', unit: 'msgs/s', higher: true },
}

const ALICE = '15550000001@s.whatsapp.net'
const BOB = '15550000002@s.whatsapp.net'

export async function run({ baileys, devices, open, sizes, measure }) {
  const { makeDevice, sendDirect, startSession } = devices
  const backend = await open()
  const alice = await makeDevice(baileys, await backend.use('alice'), { jid: ALICE, preKeyCount: 2 })
  const bob = await makeDevice(baileys, await backend.use('bob'), { jid: BOB, preKeyCount: 2 })
  await startSession(alice, bob)

  const perMessage = new Latencies()
  const cpu0 = process.cpuUsage()
  const { ms, eld } = await measure(async () => {
    for (let i = 0; i < sizes.chatMessages; i++) {
      const [from, to] = i % 2 === 0 ? [alice, bob] : [bob, alice]
      await perMessage.time(() => sendDirect(from, to, `message ${i}`)) // asserts the plaintext
      await nextTurn() // each message is its own event in an app
    }
  })
  const cpu = process.cpuUsage(cpu0)
  const id = alice.repo.jidToSignalProtocolAddress(BOB)
  const { [id]: record } = await alice.auth.state.keys.get('session', [id])
  const m = perMessage.summary()
  return {
    msgsPerSec: (sizes.chatMessages / ms) * 1000,
    totalMs: ms,
    msgP50Ms: m.p50, msgP99Ms: m.p99,
    cpuSecPer1k: ((cpu.user + cpu.system) / 1e6 / sizes.chatMessages) * 1000,
    finalRecordBytes: JSON.stringify(record, baileys.BufferJSON.replacer).length,
    eld,
  }
}
