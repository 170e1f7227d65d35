// Defect: an unfenced write (openStore().setKeys / deleteSession without takeover) to a session
// whose owner's lease has lapsed but was not taken is accepted, and does NOT bump the epoch:
// the owner (whose event loop was blocked past leaseMs) then writes on with its old fence and
// is accepted too. Two writers, both acknowledged, interleaved on one session.
// Usage: node repro/unfenced-after-stall.mjs [sqlite|redis]
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, useRustAuthState } from '../index.mjs'

const kind = process.argv[2] ?? 'sqlite'
const role = process.argv[3]
const BAILEYS = { initAuthCreds: () => ({ me: { id: 'x' } }), proto: {} }

if (role === 'owner') {
  const url = process.argv[4]
  const auth = await useRustAuthState('s', { store: url, leaseMs: 1000, baileys: BAILEYS })
  await auth.state.keys.set({ session: { a: { by: 'owner', n: 1 } } })
  console.log('ready')
  // Wait for the go signal, then block the event loop past leaseMs (a GC pause, a sync job).
  await new Promise((r) => process.stdin.once('data', r))
  const until = Date.now() + 2500
  while (Date.now() < until) {}
  // Right after the stall, in the same turn, the app writes (a message that was being handled).
  try {
    await auth.state.keys.set({ session: { b: { by: 'owner-after-stall', n: 2 } } })
    console.log('owner write (keys.set, old fence) after stall: ACCEPTED')
  } catch (e) {
    console.log('owner write (keys.set, old fence) after stall: refused', e.code)
  }
  await auth.close()
  process.exit(0)
}

let url
let stopRedis = async () => {}
if (kind === 'redis') {
  const { startRedis, stopAll } = await import('../__test__/helpers/redis-server.mjs')
  url = (await startRedis({ unixSocket: true })).url
  stopRedis = stopAll
} else {
  url = `sqlite:${join(mkdtempSync(join(tmpdir(), 'repro-')), 'auth.db')}`
}
const child = spawn(process.execPath, [new URL(import.meta.url).pathname, kind, 'owner', url], { stdio: ['pipe', 'pipe', 'inherit']})
const lines = []
child.stdout.on('data', (d) => lines.push(...d.toString().trim().split('\n')))
const waitLine = async (pred) => { while (!lines.some(pred)) await new Promise((r) => setTimeout(r, 20)) }
await waitLine((l) => l === 'ready')
child.stdin.write('go\n')
await new Promise((r) => setTimeout(r, 1500)) // owner is stalled; its 1 s lease lapsed
const tool = await openStore(url)
try {
  await tool.deleteSession('s') // a tool (or the CLI) deleting the "dead" session, no takeover
  console.log('unfenced deleteSession by another process: ACCEPTED')
} catch (e) {
  console.log('unfenced deleteSession refused', e.code)
}
try {
  await tool.setKeys('s', { session: { c: { by: 'tool', n: 3 } } })
  console.log('unfenced setKeys by another process: ACCEPTED')
} catch (e) {
  console.log('unfenced setKeys refused', e.code)
}
await waitLine((l) => l.startsWith('owner write'))
console.log(lines.filter((l) => l !== 'ready').join('\n'))
const got = await tool.getKeys('s', 'session', ['a', 'b', 'c'])
console.log('store now holds:', JSON.stringify(got), 'creds:', JSON.stringify(await tool.getCreds('s')), 'lease:', JSON.stringify(await tool.lease('s')))
await tool.close()
await stopRedis()
