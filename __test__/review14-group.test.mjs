// Review 14: group commit and deadlines of the PostgreSQL and MySQL stores under a stalled
// server (another client's transaction holding one session's lease row). A write stuck behind
// that lock should fail alone; the writes grouped with it (other sessions) should commit, and
// the store should not be left holding their locks.
import test from 'ava'

import { openStore } from '../index.mjs'
import { dropAll, holdLock, myStore, pgStore } from './helpers/review14.mjs'
import { mysqlAvailable, postgresAvailable } from './helpers/sql-servers.mjs'

test.after.always(dropAll)

const backends = [
  {
    name: 'postgres',
    available: postgresAvailable,
    make: () => {
      const { url, schema } = pgStore()
      return { url, lockSql: (s) => `SELECT 1 FROM "${schema}".leases WHERE session = convert_to('${s}', 'UTF8') FOR UPDATE` }
    },
  },
  {
    name: 'mysql',
    available: mysqlAvailable,
    make: () => {
      const { url, prefix } = myStore()
      return { url, lockSql: (s) => `SELECT 1 FROM \`${prefix}leases\` WHERE session = '${s}' FOR UPDATE` }
    },
  },
]

const COMMAND_TIMEOUT = 4000

async function seeded(t, backend) {
  const { url, lockSql } = backend.make()
  const store = await openStore(url, { commandTimeoutMs: COMMAND_TIMEOUT })
  t.teardown(() => store.close())
  for (const s of ['a', 'b', 'c']) await store.setKeys(s, { t: { seed: { v: 0 } } })
  return { store, lockSql }
}

for (const backend of backends) {
  // FINDING (fixed: PostgreSQL bounds each grouped statement's lock wait with SET LOCAL
  // lock_timeout, MySQL asks the savepoint whether the transaction survived): the whole group
  // failed. PostgreSQL: no lock_timeout, the group's one transaction
  // waits on the stalled row until commandTimeoutMs, then every write of it fails. MySQL: the
  // stalled write gets 1205 (innodb_lock_wait_timeout), which only rolls back that statement,
  // but write.rs ends_transaction() treats every ERR_STORE_UNAVAILABLE as ending the
  // transaction, so the group gives up and fails its other writes too.
  test(`${backend.name}: a write stalled behind another client's row lock fails alone; the other sessions' writes grouped with it commit`, async (t) => {
    if (!backend.available()) return t.pass()
    const { store, lockSql } = await seeded(t, backend)
    const lock = holdLock(backend.name, lockSql('a'))
    t.teardown(() => lock.release())
    await lock.locked
    const before = store.writeGroups.groups
    // Issued in one tick: the executor sends the first (lead) at once and groups those queued
    // behind it (b, then a, then c).
    const writes = [
      store.setKeys('lead', { t: { y: { v: 1 } } }),
      store.setKeys('b', { t: { y: { v: 1 } } }),
      store.setKeys('a', { t: { y: { v: 1 } } }),
      store.setKeys('c', { t: { y: { v: 1 } } }),
    ]
    const [lead, b, a, c] = await Promise.allSettled(writes)
    t.is(lead.status, 'fulfilled')
    t.log('groups used', store.writeGroups.groups - before, 'a', a.reason?.code, 'b', b.reason?.message, 'c', c.reason?.code)
    await lock.release()
    t.is(a.status, 'rejected')
    t.is(a.reason?.code, 'ERR_STORE_UNAVAILABLE')
    t.is(b.status, 'fulfilled', 'b does not wait on a')
    t.is(c.status, 'fulfilled', 'c does not wait on a')
    t.deepEqual(await store.getKeys('b', 't', ['y']), { y: { v: 1 } })
    t.deepEqual(await store.getKeys('c', 't', ['y']), { y: { v: 1 } })
  })

  // Holds: a lone write stuck behind a lock rejects ERR_STORE_UNAVAILABLE within about
  // commandTimeoutMs, writes nothing, and the same store writes the session once the lock goes.
  test(`${backend.name}: a lone write behind a held row lock rejects ERR_STORE_UNAVAILABLE within about commandTimeoutMs, and the store recovers when the lock is released`, async (t) => {
    if (!backend.available()) return t.pass()
    const { store, lockSql } = await seeded(t, backend)
    const lock = holdLock(backend.name, lockSql('a'))
    t.teardown(() => lock.release())
    await lock.locked
    const started = Date.now()
    const err = await t.throwsAsync(store.setKeys('a', { t: { stalled: { v: 1 } } }))
    const took = Date.now() - started
    t.is(err.code, 'ERR_STORE_UNAVAILABLE')
    t.true(took < COMMAND_TIMEOUT + 2000, `took ${took} ms`)
    await lock.release()
    await store.setKeys('a', { t: { after: { v: 2 } } })
    const got = await store.getKeys('a', 't', ['after', 'seed'])
    t.deepEqual(got, { after: { v: 2 }, seed: { v: 0 } })
  })
}

// FINDING (fixed: lock_timeout ends the stalled statement, which is rolled back to its
// savepoint) (PostgreSQL): when a group timed out, its transaction was abandoned on the server
// still waiting on the stalled row, holding the lease-row locks of the writes that went before
// the stalled one. A later lone write to one of those sessions (b) then waits on the store's
// own abandoned transaction and fails too, for as long as the other client holds its lock.
// (MySQL's lock wait ends the statement cleanly, so this one holds there.)
test('postgres: after a group stalled on session a timed out, a lone write to session b (grouped before a) is not blocked by the abandoned transaction', async (t) => {
  if (!postgresAvailable()) return t.pass()
  const backend = backends[0]
  const { store, lockSql } = await seeded(t, backend)
  const lock = holdLock('postgres', lockSql('a'))
  t.teardown(() => lock.release())
  await lock.locked
  const grouped = await Promise.allSettled([
    store.setKeys('lead', { t: { y: { v: 1 } } }),
    store.setKeys('b', { t: { y: { v: 1 } } }),
    store.setKeys('a', { t: { y: { v: 1 } } }),
  ])
  t.log('lead, b, a:', grouped.map((r) => r.reason?.code ?? r.status))
  const alone = await Promise.allSettled([store.setKeys('b', { t: { z: { v: 2 } } })])
  t.log(alone[0].reason?.message)
  await lock.release()
  t.is(alone[0].status, 'fulfilled', 'b is not locked by anyone but our own abandoned transaction')
})

// FINDING (fixed: every pooled connection sets lock_timeout and statement_timeout from
// commandTimeoutMs) (PostgreSQL): a write that timed out behind a row lock left its pooled connection
// stuck on the server (no lock_timeout / statement_timeout is set, and the client-side deadline
// only drops the future): once poolSize writes have timed out on the stalled session, every
// call of the store, to any session, fails ERR_STORE_UNAVAILABLE until the other client lets
// go. One session row held by anyone (a psql left in BEGIN … FOR UPDATE, a long report) takes
// down the whole fleet's store. MySQL holds: innodb_lock_wait_timeout ends the statement.
for (const backend of backends) {
  test(`${backend.name}: writes timing out behind one session's held row lock do not make the other sessions unavailable`, async (t) => {
    if (!backend.available()) return t.pass()
    const { url, lockSql } = backend.make()
    const store = await openStore(url, { commandTimeoutMs: 1000, poolSize: 2 })
    t.teardown(() => store.close())
    await store.setKeys('a', { t: { seed: { v: 0 } } })
    const lock = holdLock(backend.name, lockSql('a'))
    t.teardown(() => lock.release())
    await lock.locked
    const others = []
    for (let i = 0; i < 3; i++) {
      const stalled = await Promise.allSettled([store.setKeys('a', { t: { [`y${i}`]: { v: i } } })])
      t.is(stalled[0].reason?.code, 'ERR_STORE_UNAVAILABLE')
      others.push(...(await Promise.allSettled([store.setKeys(`b${i}`, { t: { y: { v: i } } }), store.getKeys('b0', 't', ['y'])])))
    }
    await lock.release()
    t.deepEqual(others.map((o) => o.reason?.message ?? o.status), others.map(() => 'fulfilled'))
  })
}

// Holds (MySQL): values up to a few KB under max_allowed_packet are stored; one over it fails
// alone with ERR_INVALID_ARG before anything is sent, and the writes grouped with it commit.
test('mysql: a value just under max_allowed_packet is stored, one just over it fails alone in its group', async (t) => {
  if (!mysqlAvailable()) return t.pass()
  const { url } = myStore()
  const store = await openStore(url, { commandTimeoutMs: 60_000 })
  t.teardown(() => store.close())
  const { mySql } = await import('./helpers/review14.mjs')
  const packet = Number(mySql('SELECT @@max_allowed_packet'))
  for (const size of [packet - 4200, packet + 10]) {
    const [lead, g1, big, g2] = await Promise.allSettled([
      store.setKeys('lead', { t: { a: { size } } }),
      store.setKeys('g1', { t: { [`a${size}`]: { size } } }),
      store.setKeys('big', { t: { [`v${size}`]: Buffer.alloc(size, 7) } }),
      store.setKeys('g2', { t: { [`a${size}`]: { size } } }),
    ])
    t.is(lead.status, 'fulfilled')
    t.is(g1.status, 'fulfilled')
    t.is(g2.status, 'fulfilled')
    if (size < packet) t.is(big.status, 'fulfilled', big.reason?.message)
    else t.is(big.reason?.code, 'ERR_INVALID_ARG')
    t.deepEqual(await store.getKeys('g2', 't', [`a${size}`]), { [`a${size}`]: { size } })
  }
  t.deepEqual((await store.listKeys('big')).map((k) => k.id), [`v${packet - 4200}`])
})

// Holds (PostgreSQL): a batch that fails at the server halfway through its function (its
// deletes done, then a key id too long for the primary key) is rolled back to its savepoint:
// its deletes are undone, and the writes grouped around it commit.
test('postgres: a batch failing halfway in its function inside a group is undone whole, the others commit', async (t) => {
  if (!postgresAvailable()) return t.pass()
  const { url } = pgStore()
  const store = await openStore(url)
  t.teardown(() => store.close())
  await store.setKeys('s', { t: { keep: { v: 1 } } })
  await store.setCreds('s', { v: 1 })
  let seed = 11
  const long = Array.from({ length: 1000 }, () => String.fromCharCode(0x4e00 + ((seed = (seed * 48271) % 2147483647) % 20000))).join('')
  const [lead, before, bad, after] = await Promise.allSettled([
    store.setKeys('lead', { t: { a: 1 } }),
    store.setKeys('g1', { t: { a: 1 } }),
    store.setKeys('s', { t: { keep: null, [long]: { v: 2 } } }),
    store.setKeys('g2', { t: { a: 1 } }),
  ])
  t.is(lead.status, 'fulfilled')
  t.is(before.status, 'fulfilled')
  t.is(after.status, 'fulfilled')
  t.is(bad.status, 'rejected')
  t.log(bad.reason?.code, store.writeGroups)
  t.deepEqual(await store.getKeys('s', 't', ['keep']), { keep: { v: 1 } })
  t.deepEqual((await store.listKeys('s')).map((k) => k.id), ['keep'])
  t.deepEqual(await store.getKeys('g2', 't', ['a']), { a: 1 })
})
