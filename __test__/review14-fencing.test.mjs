// Review 14: fencing across processes on PostgreSQL and MySQL. A worker process writes with its
// fence while this process takes the lease over and clears the session: none of the old owner's
// writes may land after that (the session ends up with the new owner's data only), and once
// one of its writes is refused every later one is. And unfenced writes to new sessions racing
// lease acquisitions of the same sessions from another process: no deadlock, no lost write.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

import test from 'ava'

import { openStore } from '../index.mjs'
import { dropAll, myStore, pgStore } from './helpers/review14.mjs'
import { mysqlAvailable, postgresAvailable } from './helpers/sql-servers.mjs'

test.after.always(dropAll)

const WORKER = fileURLToPath(new URL('./fixtures/review14-worker.mjs', import.meta.url))

/** Starts a worker; `lines` is an async iterator of its parsed stdout lines, `exited` its exit code. */
function worker(t, args) {
  const child = spawn(process.execPath, [WORKER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })))
  t.teardown(() => child.exitCode === null && child.kill('SIGKILL'))
  const lines = (async function* () {
    for await (const line of createInterface({ input: child.stdout })) yield JSON.parse(line)
  })()
  return { child, lines, exited }
}

const backends = [
  ['postgres', postgresAvailable, () => pgStore().url],
  ['mysql', mysqlAvailable, () => myStore().url],
]

for (const [name, available, make] of backends) {
  test(`${name}: after a takeover from another process, none of the old owner's fenced writes lands, and once refused it stays refused`, async (t) => {
    if (!available()) return t.pass()
    const url = make()
    const store = await openStore(url)
    t.teardown(() => store.close())
    for (let round = 0; round < 3; round++) {
      const session = `fenced-${round}`
      const old = worker(t, ['fenced', url, session])
      const results = []
      let takeover = null
      for await (const line of old.lines) {
        if (line.done) break
        if (line.lease) continue
        results.push(line)
        // Take over mid-stream (after 10 acknowledged writes), then clear what the old owner wrote.
        if (takeover === null && results.filter((r) => r.ok).length >= 10 + round * 7) {
          takeover = store.acquireLease(session, { leaseMs: 60_000, claim: 'takeover' }).then(async (lease) => {
            await store.clearKeys(session, lease.fence)
            await store.setCreds(session, { by: 'new' }, lease.fence)
            await store.setKeys(session, { t: { mine: { by: 'new' } } }, lease.fence)
            return lease
          })
        }
      }
      const lease = await takeover
      t.is((await old.exited).code, 0)
      const firstRefused = results.findIndex((r) => !r.ok)
      t.log(`round ${round}: ${firstRefused} writes acknowledged before the first refusal`)
      t.true(firstRefused > 0, 'the old owner was refused at some point')
      t.true(results.slice(firstRefused).every((r) => !r.ok && r.code === 'ERR_SESSION_FENCED'), JSON.stringify(results.slice(firstRefused, firstRefused + 5)))
      // Nothing of the old owner is left: its writes that committed came before the clear.
      t.deepEqual(
        (await store.listKeys(session)).map((k) => `${k.type ?? k.kind}:${k.id}`),
        ['t:mine'],
      )
      t.deepEqual(await store.getCreds(session), { by: 'new' })
      t.is((await store.lease(session)).epoch, lease.epoch)
    }
  })

  test(`${name}: unfenced writes to new sessions racing another process's acquisitions of them: no deadlock, each write applied or refused ERR_SESSION_LOCKED, no lost write`, async (t) => {
    if (!available()) return t.pass()
    const url = make()
    const store = await openStore(url)
    t.teardown(() => store.close())
    const n = 300
    for (let round = 0; round < 3; round++) {
      const prefix = `race${round}-`
      const writer = worker(t, ['unfenced', url, prefix, String(n)])
      const leaser = worker(t, ['acquire', url, prefix, String(n)])
      const collect = async (w) => {
        const out = new Map()
        for await (const line of w.lines) {
          if (line.done) break
          out.set(line.session, line)
        }
        return out
      }
      const [writes, grants] = await Promise.all([collect(writer), collect(leaser)])
      t.is(writes.size, n)
      t.is(grants.size, n)
      t.log(`round ${round}: ${[...writes.values()].filter((w) => w.ok).length} unfenced writes applied, the rest refused`)
      for (let i = 0; i < n; i++) {
        const session = `${prefix}${i}`
        const w = writes.get(session)
        const g = grants.get(session)
        t.true(w.ok || w.code === 'ERR_SESSION_LOCKED', `${session} write: ${w.code} ${w.message ?? ''}`)
        t.true(g.ok && g.wrote, `${session} grant: ${g.code} ${g.message ?? ''}`)
        const got = await store.getKeys(session, 't', ['u', 'l'])
        t.deepEqual(got.u, w.ok ? { by: 'unfenced' } : null, session)
        t.deepEqual(got.l, { by: 'leased' }, session)
      }
    }
  })
}
