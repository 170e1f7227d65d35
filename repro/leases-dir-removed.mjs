// If <db>.leases/ is removed while an owner runs (an operator "cleaning up", a tmp reaper), the
// owner's flock is on an unlinked inode; the next process creates a fresh lock file, finds it
// free, judges the live owner dead, and takes its session without takeover.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore } from '../index.mjs'
const dir = mkdtempSync(join(tmpdir(), 'repro-'))
const url = `sqlite:${join(dir, 'auth.db')}`
const owner = spawn(process.execPath, [new URL('../__test__/fixtures/session-owner.mjs', import.meta.url).pathname, url, 'bot', '{"leaseMs":600000}'], { stdio: ['pipe', 'pipe', 'inherit'] })
await new Promise((r) => owner.stdout.once('data', r))
rmSync(join(dir, 'auth.db.leases'), { recursive: true })
const store = await openStore(url)
try {
  const l = await store.acquireLease('bot', { claim: 'refuse' })
  console.log(`took the LIVE owner's session with claim 'refuse' (epoch ${l.epoch})`)
} catch (e) {
  console.log('refused', e.code)
}
owner.kill('SIGKILL')
await store.close()
