// Review 14b: grouped writes of the PostgreSQL and MySQL stores, attacked with groups that mix
// writes that must fail (a stale fence, an oversize id, a row another client holds) with writes
// that must commit, and with more than one stalled write in one group.
//
// To get one group of known members, the executor is first kept busy by a "lead" write to a
// session whose lease row another client holds; the writes of the group are issued while it
// waits, and the lock is let go at once: the lead commits and the writes queued behind it go as
// one group, all issued at about the same time.
import test from 'ava'

import { openStore } from '../index.mjs'
import { dropAll, holdLock, myStore, mySql, pgSql, pgStore } from './helpers/review14.mjs'
import { mysqlAvailable, postgresAvailable } from './helpers/sql-servers.mjs'

test.after.always(dropAll)

const backends = [
  {
    name: 'postgres',
    available: postgresAvailable,
    make: () => {
      const { url, schema } = pgStore()
      return {
        name: 'postgres',
        url,
        lockSql: (s) => `SELECT 1 FROM "${schema}".leases WHERE session = convert_to('${s}', 'UTF8') FOR UPDATE`,
        // Every (session, type, id) stored, as plain SQL sees it.
        rows: () =>
          pgSql(`SELECT convert_from(session, 'UTF8') || '/' || convert_from(type, 'UTF8') || '/' || convert_from(id, 'UTF8') FROM "${schema}".keys ORDER BY 1`)
            .split('\n')
            .filter(Boolean),
        creds: () =>
          pgSql(`SELECT convert_from(session, 'UTF8') FROM "${schema}".sessions WHERE creds IS NOT NULL ORDER BY 1`).split('\n').filter(Boolean),
      }
    },
  },
  {
    name: 'mysql',
    available: mysqlAvailable,
    make: () => {
      const { url, prefix } = myStore()
      return {
        name: 'mysql',
        url,
        lockSql: (s) => `SELECT 1 FROM \`${prefix}leases\` WHERE session = '${s}' FOR UPDATE`,
        rows: () =>
          mySql(`SELECT CONCAT(CAST(session AS CHAR), '/', CAST(type AS CHAR), '/', CAST(id AS CHAR)) AS r FROM \`${prefix}keys\` ORDER BY r`)
            .split('\n')
            .filter(Boolean),
        creds: () => mySql(`SELECT CAST(session AS CHAR) AS s FROM \`${prefix}sessions\` WHERE creds IS NOT NULL ORDER BY s`).split('\n').filter(Boolean),
      }
    },
  },
]

/** Bounds a promise: a call that never settles fails the test instead of hanging it. */
function bounded(promise, ms, what) {
  let timer
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`HANG: ${what} did not settle within ${ms} ms`)), ms)
    }),
  ])
}

/**
 * Issues `writes()` (a function returning the promises of the group) while the store's executor
 * is busy with a lead write stalled on `lead`'s lease row, then lets the lead go: the writes
 * queued meanwhile go as one group. Returns their settled results.
 */
async function asOneGroup(t, store, backend, writes) {
  const lock = holdLock(backend.name, backend.lockSql('lead'))
  t.teardown(() => lock.release())
  await lock.locked
  const lead = store.setKeys('lead', { t: { go: { v: 1 } } })
  const before = store.writeGroups
  const group = writes()
  await lock.release()
  const results = await bounded(Promise.allSettled([lead, ...group]), 60_000, 'the group')
  const after = store.writeGroups
  t.log('groups', after.groups - before.groups, 'writes', after.writes - before.writes)
  t.is(results[0].status, 'fulfilled', `the lead: ${results[0].reason?.message}`)
  return results.slice(1)
}

const COMMAND_TIMEOUT = 4000

for (const backend of backends) {
  // Holds: a group mixing a write with a stale fence (another process took the lease over), a
  // key id over 1,024 bytes, a write stalled behind another client's row lock, and good writes
  // (keys and creds) of other sessions: each failing write rejects with its own code, every
  // write that resolved is in the database (plain SQL), and nothing of a rejected write is.
  test(`${backend.name}: a group mixing a fenced write, an oversize id and a stalled write with good ones: each gets its own result and the database agrees`, async (t) => {
    if (!backend.available()) return t.pass()
    const b = backend.make()
    const store = await openStore(b.url, { commandTimeoutMs: COMMAND_TIMEOUT })
    t.teardown(() => store.close())
    const other = await openStore(b.url, { commandTimeoutMs: COMMAND_TIMEOUT })
    t.teardown(() => other.close())
    for (const s of ['lead', 'stalled', 'fenced', 'big', 'g1', 'g2', 'g3']) await store.setKeys(s, { t: { seed: { v: 0 } } })
    const mine = await store.acquireLease('fenced')
    await other.acquireLease('fenced', { claim: 'takeover' })
    const stall = holdLock(backend.name, b.lockSql('stalled'))
    t.teardown(() => stall.release())
    await stall.locked
    const results = await asOneGroup(t, store, b, () => [
      store.setKeys('g1', { t: { new: { v: 1 } } }),
      store.setKeys('fenced', { t: { new: { v: 1 } } }, mine.fence),
      store.setCreds('g2', { me: 'g2' }),
      store.setKeys('big', { t: { new: { v: 1 }, ['x'.repeat(2000)]: { v: 1 } } }),
      store.setKeys('stalled', { t: { new: { v: 1 } } }),
      store.setCreds('fenced', { me: 'fenced' }, mine.fence),
      store.setKeys('g3', { t: { new: { v: 1 } } }),
    ])
    await stall.release()
    const outcome = results.map((r) => (r.status === 'fulfilled' ? 'ok' : r.reason?.code))
    t.deepEqual(outcome, ['ok', 'ERR_SESSION_FENCED', 'ok', 'ERR_INVALID_ARG', 'ERR_STORE_UNAVAILABLE', 'ERR_SESSION_FENCED', 'ok'])
    t.false(results.some((r) => r.reason?.message?.includes('x'.repeat(100))), 'no message holds the key id')
    t.deepEqual(b.rows(), [
      'big/t/seed',
      'fenced/t/seed',
      'g1/t/new',
      'g1/t/seed',
      'g2/t/seed',
      'g3/t/new',
      'g3/t/seed',
      'lead/t/go',
      'lead/t/seed',
      'stalled/t/seed',
    ])
    t.deepEqual(b.creds(), ['g2'])
    // A fresh store reads the same.
    const fresh = await openStore(b.url)
    t.teardown(() => fresh.close())
    t.deepEqual(await fresh.getCreds('g2'), { me: 'g2' })
    t.is(await fresh.getCreds('fenced'), null)
  })
}

// FINDING (MySQL): two writes of one group stalled behind rows another client holds fail the
// whole group, the good writes with them. Each MySQL connection sets a fixed
// innodb_lock_wait_timeout (half of commandTimeoutMs, whole seconds), whatever the group has
// left: the first stalled write uses half of the group's time, the second the other half, and
// the client's deadline cuts the transaction off before it commits. PostgreSQL bounds each
// grouped statement's lock wait by half of what the group has left (SET LOCAL lock_timeout), so
// there both stalled writes fail alone and the others commit. docs/mysql.md says a lock wait
// "in a group, that write fails alone, rolled back to its savepoint, and the others commit".
for (const backend of backends) {
  // Fixed: each grouped write waits for locks half of what the group has left.
  const run = test
  run(`${backend.name}: two stalled writes in one group fail alone; the good writes grouped with them commit`, async (t) => {
    if (!backend.available()) return t.pass()
    const b = backend.make()
    const store = await openStore(b.url, { commandTimeoutMs: COMMAND_TIMEOUT })
    t.teardown(() => store.close())
    for (const s of ['lead', 'a', 'd', 'g1', 'g2']) await store.setKeys(s, { t: { seed: { v: 0 } } })
    const locks = ['a', 'd'].map((s) => holdLock(backend.name, b.lockSql(s)))
    t.teardown(() => Promise.all(locks.map((l) => l.release())))
    await Promise.all(locks.map((l) => l.locked))
    const [g1, a, d, g2] = await asOneGroup(t, store, b, () => [
      store.setKeys('g1', { t: { new: { v: 1 } } }),
      store.setKeys('a', { t: { new: { v: 1 } } }),
      store.setKeys('d', { t: { new: { v: 1 } } }),
      store.setKeys('g2', { t: { new: { v: 1 } } }),
    ])
    await Promise.all(locks.map((l) => l.release()))
    t.log('g1', g1.reason?.message, 'g2', g2.reason?.message)
    t.is(a.reason?.code, 'ERR_STORE_UNAVAILABLE')
    t.is(d.reason?.code, 'ERR_STORE_UNAVAILABLE')
    t.is(g1.status, 'fulfilled', 'g1 does not wait on a and d')
    t.is(g2.status, 'fulfilled', 'g2 does not wait on a and d')
    t.deepEqual(b.rows().filter((r) => r.endsWith('/new')), ['g1/t/new', 'g2/t/new'])
  })
}
