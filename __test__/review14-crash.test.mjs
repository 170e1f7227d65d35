// Review 14: a client process SIGKILLed at random points while writing key batches of hundreds
// of keys (large enough that MySQL splits a batch's upsert across statements) and creds, four
// writes in flight (group commit): every acknowledged batch is there, every batch is whole or
// absent, the creds are those of an acknowledged write or a later one.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

import test from 'ava'

import { openStore } from '../index.mjs'
import { dropAll, myStore, pgStore } from './helpers/review14.mjs'
import { mysqlAvailable, postgresAvailable } from './helpers/sql-servers.mjs'

test.after.always(dropAll)

const WORKER = fileURLToPath(new URL('./fixtures/review14-worker.mjs', import.meta.url))
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 100000)
let state = SEED
const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648)

const KEYS = 300
const backends = [
  ['postgres', postgresAvailable, () => pgStore().url, 2_000],
  // 300 keys of ~40 KB: ~12 MB a batch, over half of MariaDB's 16 MB max_allowed_packet, so each
  // batch's upsert is split across statements of one transaction.
  ['mysql', mysqlAvailable, () => myStore().url, 40_000],
]

for (const [name, available, make, valueBytes] of backends) {
  test(`${name}: a client SIGKILLed mid-write leaves every acknowledged batch and no torn one (seed ${SEED})`, async (t) => {
    if (!available()) return t.pass()
    const url = make()
    const store = await openStore(url)
    t.teardown(() => store.close())
    for (let trial = 0; trial < 4; trial++) {
      const session = `crash-${trial}`
      const child = spawn(process.execPath, [WORKER, 'batches', url, session, String(KEYS), String(valueBytes)], { stdio: ['ignore', 'pipe', 'inherit'] })
      t.teardown(() => child.exitCode === null && child.kill('SIGKILL'))
      const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal)))
      const killAfter = 1 + Math.floor(random() * 8)
      let acked = -1
      let creds = -1
      for await (const line of createInterface({ input: child.stdout })) {
        const o = JSON.parse(line)
        if ('acked' in o) acked = Math.max(acked, o.acked)
        if ('creds' in o) creds = Math.max(creds, o.creds)
        if (acked >= killAfter) {
          child.kill('SIGKILL')
          break
        }
      }
      t.is(await exited, 'SIGKILL')
      const counts = new Map()
      for (const key of await store.listKeys(session)) {
        const j = Number(/^b(\d+)-/.exec(key.id)[1])
        counts.set(j, (counts.get(j) ?? 0) + 1)
      }
      for (let j = 0; j <= acked; j++) t.is(counts.get(j), KEYS, `acknowledged batch ${j} is whole`)
      for (const [j, n] of counts) t.is(n, KEYS, `batch ${j} is whole or absent`)
      const stored = await store.getCreds(session)
      t.true(stored !== null && stored.j >= creds, `creds ${JSON.stringify(stored)} after acknowledged ${creds}`)
      t.log(`trial ${trial}: killed after batch ${acked}, ${counts.size} batches stored`)
      t.is((await store.check()).length, 0)
    }
  })
}
