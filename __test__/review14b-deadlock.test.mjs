// Review 14b: a real InnoDB deadlock (1213) against one write in the middle of a MySQL group.
//
// Another client, made the "heavier" transaction (it has modified many rows, so InnoDB picks the
// store's transaction as the victim), locks the key row the grouped write will upsert; the
// group's write locks its session's lease row, then waits on that key row; the other client then
// asks for the lease row: a cycle, and InnoDB rolls back the store's whole transaction, the
// writes of the group before the victim with it.
//
// Holds: the store is the victim, its whole group fails ERR_STORE_UNAVAILABLE (the writes before
// and after the victim too: InnoDB undid them, and the store does not retry them), nothing of it
// is stored. As docs/mysql.md says ("a deadlock ... fails the group").
//
// What must hold whatever the store then does: no write reported a success is absent, no write
// reported a failure is present, every failing write rejects ERR_STORE_UNAVAILABLE (retryable),
// and nothing hangs.
import { spawn } from 'node:child_process'

import test from 'ava'

import { openStore } from '../index.mjs'
import { dropAll, holdLock, myStore, mySql } from './helpers/review14.mjs'
import { mysqlAvailable } from './helpers/sql-servers.mjs'
import { until } from './helpers/until.mjs'

test.after.always(dropAll)

const MY_ARGS = ['-N', '-B', '-n', '-h', '127.0.0.1', '-P', '3306', '-u', 'root', 'test']

/** A mariadb client fed statements one step at a time; `step(sql, marker)` resolves once `marker` is printed. */
function client() {
  const child = spawn('mariadb', MY_ARGS, { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const exited = new Promise((resolve) => child.on('exit', resolve))
  return {
    get out() {
      return out
    },
    get err() {
      return err
    },
    send: (sql) => child.stdin.write(`${sql}\n`),
    step: (sql, marker) => {
      child.stdin.write(`${sql}\nSELECT '${marker}';\n`)
      return until(() => out.includes(marker) || (child.exitCode !== null && Promise.reject(new Error(`client exited: ${err}`))), marker, 30_000)
    },
    end: () => {
      if (child.exitCode === null) child.stdin.end('ROLLBACK;\n')
      return exited
    },
  }
}

function bounded(promise, ms, what) {
  let timer
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`HANG: ${what} did not settle within ${ms} ms`)), ms)
    }),
  ])
}

test('mysql: a deadlock against one write in the middle of a group: no acknowledged write is missing, no rejected one is present', async (t) => {
  if (!mysqlAvailable()) return t.pass()
  const { url, prefix } = myStore()
  const keys = `\`${prefix}keys\``
  const leases = `\`${prefix}leases\``
  const scratch = `\`${prefix}scratch\``
  const store = await openStore(url, { commandTimeoutMs: 10_000 })
  t.teardown(() => store.close())
  for (const s of ['lead', 'g1', 'victim', 'g2']) await store.setKeys(s, { t: { k: { v: 0 } } })
  mySql(`CREATE TABLE ${scratch} (n INT PRIMARY KEY) ENGINE=InnoDB`)
  t.teardown(() => mySql(`DROP TABLE IF EXISTS ${scratch}`))

  const other = client()
  t.teardown(() => other.end())
  // Heavy: 5,000 rows inserted in its transaction, so that the store's is the lighter one.
  await other.step(
    `BEGIN; INSERT INTO ${scratch} SELECT seq FROM seq_1_to_5000; SELECT 1 FROM ${keys} WHERE session = 'victim' AND type = 't' AND id = 'k' FOR UPDATE;`,
    'HOLDS_KEY',
  )

  // The executor is kept busy by a lead stalled on its lease row, so that g1, victim and g2
  // queue behind it and go as one group once the lead is let go.
  const leadLock = holdLock('mysql', `SELECT 1 FROM ${leases} WHERE session = 'lead' FOR UPDATE`)
  t.teardown(() => leadLock.release())
  await leadLock.locked
  const lead = store.setKeys('lead', { t: { k: { v: 1 } } })
  const before = store.writeGroups
  const group = [
    store.setKeys('g1', { t: { k: { v: 1 } } }),
    store.setKeys('victim', { t: { k: { v: 1 } } }),
    store.setCreds('g2', { v: 1 }),
  ]
  await leadLock.release()
  // The victim's write waits on the key row: the store's transaction holds the victim's lease row.
  await until(
    () => Number(mySql(`SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT' AND trx_query LIKE '%${prefix}keys%'`)) > 0,
    'the grouped write to wait on the key row',
    20_000,
  )
  // The cycle: the other client asks for the lease row the store's transaction holds.
  other.send(`SELECT 1 FROM ${leases} WHERE session = 'victim' FOR UPDATE; SELECT 'GOT_LEASE';`)
  const results = await bounded(Promise.allSettled([lead, ...group]), 30_000, 'the grouped writes')
  await until(() => other.out.includes('GOT_LEASE') || other.err.length > 0, 'the other client to get the lease row or fail', 30_000)
  t.log('other client:', other.err.trim() || 'got the lease row')
  await other.end()
  const after = store.writeGroups
  const outcome = results.map((r) => (r.status === 'fulfilled' ? 'ok' : `${r.reason?.code}: ${r.reason?.message}`))
  t.log('groups', after.groups - before.groups, 'lead, g1, victim, g2:', outcome)
  t.false(other.err.includes('Deadlock'), 'the store was the deadlock victim (else this test proves nothing)')

  const fresh = await openStore(url)
  t.teardown(() => fresh.close())
  const present = {
    lead: (await fresh.getKeys('lead', 't', ['k'])).k?.v === 1,
    g1: (await fresh.getKeys('g1', 't', ['k'])).k?.v === 1,
    victim: (await fresh.getKeys('victim', 't', ['k'])).k?.v === 1,
    g2: (await fresh.getCreds('g2'))?.v === 1,
  }
  t.log('present', present)
  const names = ['lead', 'g1', 'victim', 'g2']
  for (const [i, r] of results.entries()) {
    if (r.status === 'fulfilled') t.true(present[names[i]], `${names[i]} was acknowledged and must be present`)
    else {
      t.false(present[names[i]], `${names[i]} was rejected and must not be present`)
      t.is(r.reason?.code, 'ERR_STORE_UNAVAILABLE', names[i])
    }
  }
  t.is(results[2].status, 'rejected', 'the deadlock victim failed')
})
