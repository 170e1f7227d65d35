// Defect probe: two AuthStores of one SQLite file in one process (openStore twice: they share
// the process-wide lock-file table HELD, keyed by the file's identity). release_lease commits
// holder='' and only AFTER the commit gives the lock file back (outside the transaction). An
// acquisition through the other store that lands in between finds the lock "already held by
// this process", records kernel_lock=1, and then the release closes the lock file. The new
// owner's record claims a kernel lock nobody holds, so ANY other process sees it "dead" and
// takes the live session without takeover (it should get ERR_SESSION_LOCKED).
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { openStore } from '../index.mjs'

const [, self, role, url] = process.argv
if (role === 'checker') {
  const store = await openStore(url)
  for await (const line of createInterface({ input: process.stdin })) {
    try {
      const l = await store.acquireLease('s', { claim: 'refuse', leaseMs: 30000 })
      await store.releaseLease('s', l.fence)
      console.log('TOOK')
    } catch (e) {
      console.log(e.code)
    }
  }
} else {
  const url = `sqlite:${join(mkdtempSync(join(tmpdir(), 'repro-')), 'auth.db')}`
  const X = await openStore(url)
  const Y = await openStore(url)
  const checker = spawn(process.execPath, [self, 'checker', url], { stdio: ['pipe', 'pipe', 'inherit'] })
  const answers = createInterface({ input: checker.stdout })[Symbol.asyncIterator]()
  let broken = 0
  const N = Number(process.argv[2] ?? 3000) || 3000
  for (let i = 0; i < N; i++) {
    const x = await X.acquireLease('s', { claim: 'process', leaseMs: 30000 })
    const [, y] = await Promise.all([X.releaseLease('s', x.fence), Y.acquireLease('s', { claim: 'process', leaseMs: 30000 })])
    checker.stdin.write('try\n')
    const { value } = await answers.next()
    if (value === 'TOOK') {
      broken++
      if (broken === 1) console.log(`iteration ${i}: another process took a LIVE lease (epoch ${y.epoch}) with claim 'refuse'`)
    } else if (value !== 'ERR_SESSION_LOCKED') console.log('unexpected', value)
    await Y.releaseLease('s', y.fence)
  }
  console.log(`${broken}/${N} iterations: a live owner's session taken by another process without takeover`)
  checker.stdin.end()
  await X.close()
  await Y.close()
}
