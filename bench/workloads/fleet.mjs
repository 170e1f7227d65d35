// fleet: many accounts in one process on one store, all talking at once. N sessions, N/2 pairs;
// every pair converses concurrently with the others, alternating direction (each message a DH
// ratchet step), each message its own event (a setImmediate between a pair's messages), every
// plaintext checked. The devices and their live sessions come from the fixtures (initAuthCreds
// and X3DH cost milliseconds each, the same for every store) and are written into the store
// under test before the clock starts. fleet-100.mjs and fleet-1000.mjs pick N.
import { fleetJid } from '../lib/fixtures.mjs'
import { Latencies, nextTurn } from '../lib/stats.mjs'

export const fleetMetrics = (n) => ({
  msgsPerSec: { label: `fleet ${n}: messages over all sessions`, short: `fleet ${n}`, unit: 'msgs/s', higher: true },
})

/** Writes device `d` of the fixtures into the store and returns its simulated device. */
async function load(baileys, devices, backend, d) {
  const auth = await backend.use(d.jid)
  Object.assign(auth.state.creds, d.creds) // in place: some peers' saveCreds close over it
  await auth.saveCreds()
  await auth.state.keys.set(d.keys)
  return devices.makeDevice(baileys, auth, { jid: d.jid })
}

export async function runFleet({ baileys, devices, open, fixtures, measure }, { sessions, messages }) {
  const backend = await open()
  const fx = fixtures.fleet.devices.slice(0, sessions)
  const loaded = []
  for (const d of fx) loaded.push(await load(baileys, devices, backend, d))
  const pairs = []
  for (let i = 0; i < sessions; i += 2) pairs.push([loaded[i], loaded[i + 1]])
  const perPair = Math.ceil(messages / pairs.length)

  const perMessage = new Latencies()
  const cpu0 = process.cpuUsage()
  const { ms, eld } = await measure(() =>
    Promise.all(
      pairs.map(async ([a, b], p) => {
        for (let i = 0; i < perPair; i++) {
          const [from, to] = i % 2 === 0 ? [a, b] : [b, a]
          await perMessage.time(() => devices.sendDirect(from, to, `pair ${p} message ${i}`)) // asserts the plaintext
          await nextTurn()
        }
      }),
    ),
  )
  const cpu = process.cpuUsage(cpu0)
  const total = perPair * pairs.length
  if (perMessage.count !== total) throw new Error(`${perMessage.count} of ${total} messages went through`)
  if (fx[0].jid !== fleetJid(0)) throw new Error('fixtures are not the fleet devices')
  const m = perMessage.summary()
  return {
    msgsPerSec: (total / ms) * 1000,
    messages: total,
    msgP50Ms: m.p50, msgP99Ms: m.p99,
    cpuSecPer1k: ((cpu.user + cpu.system) / 1e6 / total) * 1000,
    eld,
  }
}
