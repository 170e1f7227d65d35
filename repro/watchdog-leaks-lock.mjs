// Defect probe: a handle lost by its watchdog (no renewal for 5/6 of leaseMs: here a blocked
// event loop) never gives the session's lock file back, even after close(): SessionLease.release()
// returns early once lost, and nothing else calls the store. The process keeps the flock for
// its whole life, so every later owner of the session (another process) runs with
// kernel_lock=false, and when THAT owner is kill -9'd the next one is refused ERR_SESSION_LOCKED
// for a full leaseMs instead of taking over "at once" (docs/ownership.md, failure modes).
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, useRustAuthState } from '../index.mjs'

const BAILEYS = { initAuthCreds: () => ({ me: { id: 'x' } }), proto: {} }
const [, self, role, url] = process.argv

if (role === 'A') {
  const auth = await useRustAuthState('s', { store: url, leaseMs: 1000, baileys: BAILEYS })
  const until = Date.now() + 1200
  while (Date.now() < until) {} // blocked event loop: the watchdog will report the loss
  const err = await auth.lost
  console.log('A lost:', err.code)
  await auth.close()
  console.log('A closed')
  setInterval(() => {}, 1000) // A lives on (other sessions, say)
} else if (role === 'B') {
  for (;;) {
    try {
      await useRustAuthState('s', { store: url, leaseMs: 30000, baileys: BAILEYS })
      break
    } catch (e) {
      if (e.code !== 'ERR_SESSION_LOCKED') throw e
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  console.log('B owns')
  setInterval(() => {}, 1000)
} else {
  const url = `sqlite:${join(mkdtempSync(join(tmpdir(), 'repro-')), 'auth.db')}`
  const start = (r) => {
    const c = spawn(process.execPath, [self, r, url], { stdio: ['ignore', 'pipe', 'inherit'] })
    c.lines = []
    c.stdout.on('data', (d) => c.lines.push(...d.toString().trim().split('\n')))
    return c
  }
  const wait = async (c, l) => { while (!c.lines.includes(l)) await new Promise((r) => setTimeout(r, 20)) }
  const A = start('A')
  await wait(A, 'A closed')
  console.log(A.lines.join('\n'))
  const B = start('B')
  await wait(B, 'B owns')
  console.log('B owns; lease:', JSON.stringify(await (async () => { const s = await openStore(url); const l = await s.lease('s'); await s.close(); return l })()))
  await new Promise((r) => setTimeout(r, 300)) // B renewed? (every 10 s) - irrelevant; it never gets the lock
  B.kill('SIGKILL')
  await new Promise((r) => B.on('exit', r))
  const t0 = Date.now()
  try {
    const c = await useRustAuthState('s', { store: url, baileys: BAILEYS })
    console.log(`C took the session of killed B at once (${Date.now() - t0} ms)`)
    await c.close()
  } catch (e) {
    console.log(`C after B was kill -9'd: ${e.code} (owner expires ${e.owner?.expiresAt?.toISOString?.() ?? e.owner?.expiresAt}) -- the kill was not detected; A still holds the lock file`)
  }
  A.kill('SIGKILL')
  await new Promise((r) => A.on('exit', r))
  try {
    const c = await useRustAuthState('s', { store: url, baileys: BAILEYS })
    console.log(`after A exits too: C takes it? yes (${Date.now() - t0} ms)`)
    await c.close()
  } catch (e) {
    console.log(`after A exits too: C still ${e.code}`)
  }
}
