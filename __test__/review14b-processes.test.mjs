// Review 14b: grouped writes from several processes sharing one SQL store, each process writing
// sessions of its own in bursts (so that its writes are grouped), some of which must fail (a key
// id over the limit, a fenced write whose lease another process took over). Every call's result
// must be its own: each acknowledged write is in the database (read by a fresh store), each
// rejected one is not, and the codes are the right ones.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

import test from 'ava'

import { openStore } from '../index.mjs'
import { dropAll, myStore, pgStore } from './helpers/review14.mjs'
import { mysqlAvailable, postgresAvailable } from './helpers/sql-servers.mjs'

test.after.always(dropAll)

const WORKER = fileURLToPath(new URL('./fixtures/review14b-group-writer.mjs', import.meta.url))
const ROUNDS = 25
const PROCESSES = 3

function worker(t, args) {
  const child = spawn(process.execPath, [WORKER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  t.teardown(() => child.exitCode === null && child.kill('SIGKILL'))
  const done = (async () => {
    const lines = []
    for await (const line of createInterface({ input: child.stdout })) lines.push(JSON.parse(line))
    return { lines, stderr }
  })()
  return done
}

const servers = [
  { name: 'postgres', available: postgresAvailable, make: () => pgStore().url },
  { name: 'mysql', available: mysqlAvailable, make: () => myStore().url },
]

for (const server of servers) {
  // Holds.
  test(`${server.name}: ${PROCESSES} processes' grouped writes, some failing: every result is the caller's own and the database agrees`, async (t) => {
    if (!server.available()) return t.pass()
    const url = server.make()
    const store = await openStore(url)
    t.teardown(() => store.close())
    const names = Array.from({ length: PROCESSES }, (_, i) => `p${i}`)
    // Each process's fenced session: leased (its fence goes to the worker), then taken over here.
    const fences = []
    for (const name of names) {
      const lease = await store.acquireLease(`${name}-fenced`)
      fences.push(lease.fence)
      await store.acquireLease(`${name}-fenced`, { claim: 'takeover' })
    }
    const outputs = await Promise.all(names.map((name, i) => worker(t, [url, name, String(ROUNDS), fences[i]])))
    const fresh = await openStore(url)
    t.teardown(() => fresh.close())
    let acknowledged = 0
    let grouped = 0
    for (const { lines, stderr } of outputs) {
      const done = lines.pop()
      t.true(done?.done, `a worker did not finish: ${stderr}`)
      grouped += done.groups.writes - done.groups.groups
      for (const r of lines) {
        if (r.session.endsWith('-big')) t.is(r.code, 'ERR_INVALID_ARG', JSON.stringify(r))
        else if (r.session.endsWith('-fenced')) t.is(r.code, 'ERR_SESSION_FENCED', JSON.stringify(r))
        else t.true(r.ok, JSON.stringify(r))
        if (r.ok) acknowledged++
        if (r.kind === 'keys') {
          const got = await fresh.getKeys(r.session, 't', [`r${r.round}`])
          t.is(got[`r${r.round}`] !== null, r.ok, `${r.session} round ${r.round}: ${r.ok ? 'acknowledged but absent' : 'rejected but present'}`)
          if (r.ok && !r.session.endsWith('-big')) t.deepEqual(got[`r${r.round}`], { round: r.round, session: r.session }, 'not misattributed')
        }
      }
    }
    t.log(`${acknowledged} acknowledged writes, ${grouped} of them grouped behind another`)
    for (const name of names) {
      for (let i = 0; i < 8; i += 3) t.deepEqual(await fresh.getCreds(`${name}-${i}`), { round: ROUNDS - 1, session: `${name}-${i}` })
      t.deepEqual(await fresh.listKeys(`${name}-big`), [])
      t.deepEqual(await fresh.listKeys(`${name}-fenced`), [])
    }
  })
}
