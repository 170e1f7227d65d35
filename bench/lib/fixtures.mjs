// Inputs that are expensive to make (Baileys' initAuthCreds signs with a pure-JS curve, ~10 ms
// each) and identical for every store: made once per `npm run bench` in a child, written as
// BufferJSON text, and read by the workload children.
//   fanout:    a sender with real sessions to every receiving device (creds + session
//              records), and the receivers (creds + their one pre-key) to check decryption.
//   coldstart: a creds template and a real ~1.9 KB session record (also idle-100k's template).
//   fleet:     devices in pairs (creds + every key they hold), each pair with a live session
//              both ways (X3DH and one message each way done here), for fleet-100 and fleet-1000.
import { readFileSync, writeFileSync } from 'node:fs'

import { baileys, fromJSON, makeDevice, sendDirect, startSession, toJSON } from './baileys.mjs'
import { open as openMemory } from '../peers/memory-map.mjs'
import { fleetSessions } from './sizes.mjs'

export const COLDSTART_PEER = '15550009999@s.whatsapp.net'

/** The fanout receivers' jids: users with two devices each, as a group of phones + laptops. */
export const fanoutJid = (i) => `1555${String(100000 + (i >> 1)).padStart(7, '0')}:${i & 1}@s.whatsapp.net`

export const FANOUT_SENDER = '15550000001@s.whatsapp.net'

/** Fleet device i; devices 2k and 2k+1 are a pair. */
export const fleetJid = (i) => `1777${String(i).padStart(7, '0')}@s.whatsapp.net`

/** Like the Map peer, but keeps every device's keys where the fixture can read them all back. */
function recordingDevice(jid) {
  const map = new Map() // type -> Map(id -> value)
  const creds = baileys.initAuthCreds()
  const keys = {
    async get(type, ids) {
      const out = {}
      for (const id of ids) out[id] = map.get(type)?.get(id) ?? null
      return out
    },
    async set(data) {
      for (const type in data) {
        if (!map.has(type)) map.set(type, new Map())
        for (const id in data[type]) {
          const value = data[type][id]
          if (value === null || value === undefined) map.get(type).delete(id)
          else map.get(type).set(id, value)
        }
      }
    },
  }
  const dump = () => Object.fromEntries([...map].map(([type, m]) => [type, Object.fromEntries(m)]))
  return { auth: { state: { creds, keys }, saveCreds: async () => {} }, dump, jid }
}

/** `count` devices in pairs, each pair with sessions both ways; expensive (initAuthCreds, X3DH). */
async function makeFleet(count) {
  const devices = []
  for (let i = 0; i < count; i += 2) {
    const a = recordingDevice(fleetJid(i))
    const b = recordingDevice(fleetJid(i + 1))
    const da = await makeDevice(baileys, a.auth, { jid: a.jid, preKeyCount: 1 })
    const db = await makeDevice(baileys, b.auth, { jid: b.jid, preKeyCount: 1 })
    await startSession(da, db)
    await sendDirect(da, db, 'hello')
    await sendDirect(db, da, 'hello back')
    for (const d of [a, b]) devices.push({ jid: d.jid, creds: d.auth.state.creds, keys: d.dump() })
  }
  return devices
}

export async function makeFixtures(sizes, file) {
  const memory = await openMemory({ baileys })

  // fanout: receivers with one pre-key each, and a sender holding a session with every one
  // (X3DH from each bundle, as assertSessions would after fetching them).
  const receivers = []
  const sender = await makeDevice(baileys, await memory.use('sender'), { jid: FANOUT_SENDER, preKeyCount: 1 })
  for (let i = 0; i < sizes.fanoutDevices; i++) {
    const jid = fanoutJid(i)
    const auth = await memory.use(jid)
    auth.state.creds.me = { id: jid }
    const preKeys = { 1: baileys.Curve.generateKeyPair() }
    auth.state.creds.nextPreKeyId = 2
    auth.state.creds.firstUnuploadedPreKeyId = 2
    await auth.state.keys.set({ 'pre-key': preKeys })
    const device = await makeDevice(baileys, auth, { jid })
    await startSession(sender, device)
    receivers.push({ jid, creds: auth.state.creds, preKeys })
  }
  const addresses = receivers.map((r) => sender.repo.jidToSignalProtocolAddress(r.jid))
  const sessions = await sender.auth.state.keys.get('session', addresses)
  const fanout = { senderCreds: sender.auth.state.creds, sessions, receivers }

  // coldstart: a real session record after a short conversation, as a store holds it.
  const alice = await makeDevice(baileys, await memory.use('alice'), { jid: '15550000001@s.whatsapp.net', preKeyCount: 2 })
  const bob = await makeDevice(baileys, await memory.use('bob'), { jid: COLDSTART_PEER, preKeyCount: 2 })
  await startSession(alice, bob)
  for (let i = 0; i < sizes.microWarmupMessages; i++) {
    await (i % 2 ? sendDirect(bob, alice, `m${i}`) : sendDirect(alice, bob, `m${i}`))
  }
  const address = alice.repo.jidToSignalProtocolAddress(COLDSTART_PEER)
  const { [address]: record } = await alice.auth.state.keys.get('session', [address])

  const coldstart = { credsTemplate: alice.auth.state.creds, address, record }
  const fleet = { devices: await makeFleet(Math.max(...fleetSessions(sizes))) }
  writeFileSync(file, toJSON({ fanout, coldstart, fleet }))
}

export const readFixtures = (file) => fromJSON(readFileSync(file, 'utf8'))
