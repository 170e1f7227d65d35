// Two processes on one SQLite file through different paths (a symlink to the file, a symlinked
// directory, a hard link): is the live owner's lock file found by the other? If the lock
// directories differ, the second process sees the owner's kernel lock "free", judges the
// owner dead, and takes its LIVE session without takeover.
import { spawn } from 'node:child_process'
import { mkdtempSync, mkdirSync, symlinkSync, linkSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, useRustAuthState } from '../index.mjs'
const BAILEYS = { initAuthCreds: () => ({}), proto: {} }
const [, self, role, url] = process.argv
if (role === 'owner') {
  const auth = await useRustAuthState('s', { store: url, leaseMs: 30000, baileys: BAILEYS })
  await auth.state.keys.set({ session: { a: { x: 1 } } })
  console.log('owns')
  setInterval(() => {}, 1000)
} else {
  const root = mkdtempSync(join(tmpdir(), 'repro-'))
  mkdirSync(join(root, 'real'))
  const real = join(root, 'real', 'auth.db')
  const s = await openStore(`sqlite:${real}`); await s.close()
  mkdirSync(join(root, 'other'))
  symlinkSync(real, join(root, 'other', 'link.db'))
  symlinkSync(join(root, 'real'), join(root, 'dirlink'))
  linkSync(real, join(root, 'other', 'hard.db'))
  for (const [name, path] of [['symlink to the file', join(root, 'other', 'link.db')], ['symlinked directory', join(root, 'dirlink', 'auth.db')], ['hard link', join(root, 'other', 'hard.db')]]) {
    const owner = spawn(process.execPath, [self, 'owner', `sqlite:${real}`], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise((r) => owner.stdout.once('data', r))
    let verdict
    try {
      const st = await openStore(`sqlite:${path}`)
      const l = await st.acquireLease('s', { claim: 'refuse' })
      verdict = `TOOK the live owner's session (epoch ${l.epoch}) with claim 'refuse'`
      await st.releaseLease('s', l.fence)
      await st.close()
    } catch (e) {
      verdict = e.code
    }
    console.log(`${name}: ${verdict}`)
    owner.kill('SIGKILL')
    await new Promise((r) => owner.on('exit', r))
  }
  console.log(readdirSync(root, { recursive: true }).filter((p) => p.includes('leases') && !p.endsWith('.lock')))
}
