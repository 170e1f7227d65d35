// Review 14b: what a write cut off by the client's deadline (commandTimeoutMs) leaves on the
// server, seen by the other writers of the same session (another store: another process of the
// fleet, or the session's next owner).
import test from 'ava'

import { openStore } from '../index.mjs'
import { dropAll, holdLock, myStore, mySql, pgStore } from './helpers/review14.mjs'
import { mysqlAvailable, postgresAvailable } from './helpers/sql-servers.mjs'
import { until } from './helpers/until.mjs'

test.after.always(dropAll)

const preKeys = (count) =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [String(i), { public: Buffer.alloc(32, i % 256), private: Buffer.alloc(32, 1) }]))

const servers = [
  { name: 'postgres', available: postgresAvailable, make: () => ({ ...pgStore(), lock: (schema, s) => `SELECT 1 FROM "${schema}".leases WHERE session = convert_to('${s}', 'UTF8') FOR UPDATE` }) },
  { name: 'mysql', available: mysqlAvailable, make: () => ({ ...myStore(), lock: (prefix, s) => `SELECT 1 FROM \`${prefix}leases\` WHERE session = '${s}' FOR UPDATE` }) },
]

/** Retries `write` (bounded) until it succeeds; resolves to the last outcome. */
async function eventually(write, ms) {
  let last
  try {
    await until(async () => {
      last = (await Promise.allSettled([write()]))[0]
      return last.status === 'fulfilled'
    }, 'the write to succeed', ms)
  } catch {}
  return last
}

for (const server of servers) {
  // FINDING (MySQL, high): a write cut off by commandTimeoutMs while its statement still runs on
  // the server (a 30,000 pre-key upload with commandTimeoutMs 200) leaves its transaction OPEN on
  // the server: sqlx's rollback of the dropped transaction is only sent when the store uses that
  // pooled connection again. Until then (an idle store: up to the pool's 300 s idle timeout) the
  // abandoned transaction holds the session's lease row and its uncommitted rows, and every
  // other writer of the session fails 1205 (ERR_STORE_UNAVAILABLE) after innodb_lock_wait_timeout,
  // again and again: information_schema.innodb_trx shows it. The store's next call (any call,
  // a read) ends it. PostgreSQL holds (statement_timeout cancels the statement server-side).
  // docs/mysql.md: "a transaction cut short is rolled back before its connection is used again";
  // nothing says it stays open, locking, while the store is idle.
  // Fixed: the SQL runtime has a worker of its own, which sends sqlx's rollback of a dropped
  // transaction while the store is idle; a failed lone write is rolled back (1205 too).
  const run = test
  run(`${server.name}: a write cut off by commandTimeoutMs does not keep the session locked against other stores while its store is idle`, async (t) => {
    if (!server.available()) return t.pass()
    const { url } = server.make()
    // The schema made and the session seeded with the default deadline: on a loaded machine
    // creating tables can take longer than the deadlines under test.
    const checker = await openStore(url)
    t.teardown(() => checker.close())
    await checker.setKeys('s', { t: { seed: 1 } })
    const other = await openStore(url, { commandTimeoutMs: 3000 })
    t.teardown(() => other.close())
    // Its open has 200 ms for its own round trips too: on a loaded machine, try again.
    let small = null
    for (let attempt = 0; attempt < 20 && small === null; attempt++) {
      small = await openStore(url, { commandTimeoutMs: 200 }).catch((err) => (err.code === 'ERR_STORE_UNAVAILABLE' ? null : Promise.reject(err)))
    }
    t.truthy(small, 'a store with commandTimeoutMs 200 opened')
    t.teardown(() => small.close())
    const cut = await Promise.allSettled([small.setKeys('s', { 'pre-key': preKeys(30_000) })])
    t.log('the 30,000-key write:', cut[0].status, cut[0].reason?.message)
    if (cut[0].status === 'fulfilled') return t.pass('not cut off on this machine: nothing to check')
    t.is(cut[0].reason.code, 'ERR_STORE_UNAVAILABLE')
    // `small` stays idle. Another store writes the session.
    const last = await eventually(() => other.setKeys('s', { t: { after: 1 } }), 20_000)
    if (server.name === 'mysql') t.log('open transactions:', mySql('SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_rows_modified > 1000'))
    t.is(last.status, 'fulfilled', `another store cannot write the session: ${last.reason?.message}`)
    // The cut-off write is all or nothing: a deadline that passes while its COMMIT is on the
    // wire (a loaded machine) leaves its outcome unknown to the caller, never half of it stored.
    // Listed by the store with the default deadline: 30,002 keys may take more than 3 s to list on a loaded machine.
    const ids = (await checker.listKeys('s')).map((k) => k.id)
    t.true(ids.length === 2 || ids.length === 30_002, `${ids.length} keys: the cut-off write was stored in part`)
    t.true(ids.includes('after') && ids.includes('seed'))
  })

  // FINDING (MySQL, high; same cause): with commandTimeoutMs under 2000 (innodb_lock_wait_timeout
  // is at least 1 s), a group whose one write is stalled behind another client's row lock is cut
  // off by the client deadline: every write of the group fails (documented only as "the call then
  // fails the same way"), and the abandoned transaction keeps the lease rows of the good writes
  // before the stalled one locked: another store's write to one of those sessions fails even
  // after the other client has let go.
  run(`${server.name}: after a group with a stalled write was cut off (commandTimeoutMs 1000), another store can write the group's other sessions`, async (t) => {
    if (!server.available()) return t.pass()
    const made = server.make()
    const store = await openStore(made.url, { commandTimeoutMs: 1000 })
    t.teardown(() => store.close())
    const other = await openStore(made.url, { commandTimeoutMs: 3000 })
    t.teardown(() => other.close())
    for (const s of ['lead', 'g1', 'stalled']) await store.setKeys(s, { t: { seed: 1 } })
    const lock = holdLock(server.name, made.lock(made.schema ?? made.prefix, 'stalled'))
    t.teardown(() => lock.release())
    await lock.locked
    const results = await Promise.allSettled([
      store.setKeys('lead', { t: { v: 1 } }),
      store.setKeys('g1', { t: { v: 1 } }),
      store.setKeys('stalled', { t: { v: 1 } }),
    ])
    await lock.release()
    t.log(results.map((r) => r.reason?.message ?? r.status))
    const last = await eventually(() => other.setKeys('g1', { t: { other: 1 } }), 15_000)
    t.is(last.status, 'fulfilled', `another store cannot write g1: ${last.reason?.message}`)
  })
}

// FINDING (MySQL, high; no deadline involved): a lone write that gets the server's clean lock
// wait timeout (1205, with the default commandTimeoutMs) behind a KEY row another client holds
// leaves its transaction open, holding the session's lease row it locked first: write_one does
// not roll back an ERR_STORE_UNAVAILABLE error (ends_transaction() says the transaction is
// over, which 1205 does not do), and sqlx's queued rollback waits for the connection's next
// use. After the other client has let go, every other store's write to the session fails 1205
// (information_schema.innodb_trx shows the store's transaction RUNNING, 2 rows locked) until
// this store happens to use that connection again. docs/mysql.md: a write stuck behind a lock
// "gets the server's clean error and its connection goes on serving".
test(
  'mysql: a lone write that got a lock wait timeout (1205) does not keep the session locked once the other client let go',
  async (t) => {
    if (!mysqlAvailable()) return t.fail('no server')
    const { url, prefix } = myStore()
    const store = await openStore(url, { commandTimeoutMs: 4000 })
    t.teardown(() => store.close())
    const other = await openStore(url, { commandTimeoutMs: 4000 })
    t.teardown(() => other.close())
    await store.setKeys('s', { t: { k: 1 } })
    const lock = holdLock('mysql', `SELECT 1 FROM \`${prefix}keys\` WHERE session = 's' AND type = 't' AND id = 'k' FOR UPDATE`)
    t.teardown(() => lock.release())
    await lock.locked
    const stalled = await t.throwsAsync(store.setKeys('s', { t: { k: 2 } }))
    t.is(stalled.code, 'ERR_STORE_UNAVAILABLE')
    await lock.release()
    // `store` stays idle; another store writes the session.
    const last = await eventually(() => other.setKeys('s', { t: { after: 1 } }), 15_000)
    t.is(last.status, 'fulfilled', `another store cannot write the session: ${last.reason?.message}`)
  },
)
