// Regressions found in review of the ownership feature (docs/ownership.md): an unfenced write
// to a session whose lease lapsed untaken must end that lease (the stalled holder cannot write
// on after it); an owner stalled past its lease keeps it when nobody took it, and gives its
// lease and lock file back on close();
// two stores of one SQLite file in one process never leave a live owner without its lock.
import test from 'ava'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

import { openStore, useRustAuthState, ErrorCodes } from '../index.mjs'
import { redisAvailable, requireRedis, startRedis } from './helpers/redis-server.mjs'
import { tempDir } from './helpers/temp.mjs'
import { until } from './helpers/until.mjs'

const BLOCKING = fileURLToPath(new URL('./fixtures/blocking-owner.mjs', import.meta.url))
const OWNER = fileURLToPath(new URL('./fixtures/session-owner.mjs', import.meta.url))
const CHECKER = fileURLToPath(new URL('./fixtures/lease-checker.mjs', import.meta.url))


/** A child process speaking JSON lines: `next()` resolves to its next line. */
function child(script, args) {
  const proc = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = []
  const waiting = []
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const message = JSON.parse(line)
    const waiter = waiting.shift()
    if (waiter) waiter(message)
    else lines.push(message)
  })
  const exited = new Promise((resolve) => proc.on('exit', resolve))
  return {
    proc,
    exited,
    next: () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((resolve) => waiting.push(resolve))),
    send: (line) => proc.stdin.write(`${line}\n`),
    stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
      return exited
    },
  }
}

const SHARED = [
  { name: 'sqlite-file', url: async () => `sqlite:${join(tempDir(), 'auth.db')}` },
  { name: 'redis', url: async () => (await startRedis({ unixSocket: true })).url, redis: true },
]

for (const backend of SHARED) {
  const it = backend.redis && !redisAvailable() && process.env.CI !== 'true' ? test.skip : test.serial
  it(`${backend.name}: an unfenced write to a session whose lease lapsed untaken fences its stalled holder`, async (t) => {
    if (backend.redis) requireRedis(t)
    const url = await backend.url()
    const marker = join(tempDir(), 'go')
    const owner = child(BLOCKING, [url, 'bot', marker, '1000'])
    t.teardown(() => owner.stop())
    t.true((await owner.next()).ready)
    owner.send('block')
    const store = await openStore(url)
    t.teardown(() => store.close())
    await until(async () => !(await store.lease('bot')).live, 'the blocked owner\u2019s lease to lapse')
    await store.setKeys('bot', { session: { c: { by: 'tool' } } }) // no fence: the session looks free
    writeFileSync(marker, '')
    t.is((await owner.next()).write, ErrorCodes.SESSION_FENCED, 'the stalled owner must not write after the tool')
    t.deepEqual(await store.getKeys('bot', 'session', ['a', 'b', 'c']), { a: { by: 'owner' }, b: null, c: { by: 'tool' } })
  })
}

test.serial('sqlite-file: an owner stalled past its lease keeps it when nobody took it, and gives the lease and its lock file back on close()', async (t) => {
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  const marker = join(tempDir(), 'go')
  const first = child(BLOCKING, [url, 'bot', marker, '1000'])
  t.teardown(() => first.stop())
  t.true((await first.next()).ready)
  first.send('block')
  const store = await openStore(url)
  t.teardown(() => store.close())
  await until(async () => !(await store.lease('bot')).live, 'the blocked owner\u2019s lease to lapse')
  writeFileSync(marker, '')
  await first.next() // its write after the stall (accepted: nobody took the session)
  first.send('close')
  const closed = await first.next()
  // Its renewal after the stall was accepted (nobody took the session while it lapsed).
  t.is(closed.lost, null)
  t.false((await store.lease('bot')).live, 'released, not left to lapse')
  // The first process lives on. A second owner takes the session and its lock file, and is
  // killed: a third must take over at once, which needs the lock file the first gave back.
  const second = child(OWNER, [url, 'bot', JSON.stringify({ leaseMs: 600000 })])
  t.teardown(() => second.stop())
  t.true((await second.next()).ready)
  await second.stop()
  const third = child(OWNER, [url, 'bot'])
  t.teardown(() => third.stop())
  const line = await third.next()
  t.true(line.ready, JSON.stringify(line))
})

test.serial('sqlite-file: a release through one store and an acquisition through another of the same file never leave a live owner without its lock', async (t) => {
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  const X = await openStore(url)
  const Y = await openStore(url)
  t.teardown(() => Promise.all([X.close(), Y.close()]))
  const checker = child(CHECKER, [url, 'bot'])
  t.teardown(() => checker.stop())
  t.true((await checker.next()).ready)
  const taken = []
  for (let i = 0; i < 2000; i++) {
    const x = await X.acquireLease('bot', { claim: 'process' })
    const [, y] = await Promise.all([X.releaseLease('bot', x.fence), Y.acquireLease('bot', { claim: 'process' })])
    // Another process must be refused: the owner (y) is alive and holds its lock file.
    checker.send('try')
    const answer = await checker.next()
    if (answer.took) taken.push(i)
    else t.is(answer.code, ErrorCodes.SESSION_LOCKED)
    await Y.releaseLease('bot', y.fence)
  }
  t.deepEqual(taken, [], 'iterations where another process took the live session without takeover')
})

test('two useRustAuthState calls of one session at once, on two stores of one file, leave exactly one owner', async (t) => {
  const url = `sqlite:${join(tempDir(), 'auth.db')}`
  const [x, y] = [await openStore(url), await openStore(url)]
  t.teardown(async () => {
    await x.close()
    await y.close()
  })
  for (let i = 0; i < 50; i++) {
    const [a, b] = await Promise.all([useRustAuthState(`s${i}`, { store: x }), useRustAuthState(`s${i}`, { store: y })])
    const wrote = await Promise.all([a, b].map((h) => h.state.keys.set({ session: { k: { i } } }).then(() => true, () => false)))
    t.is(wrote.filter(Boolean).length, 1, `session s${i}: exactly one handle owns it`)
    await a.close()
    await b.close()
  }
})
