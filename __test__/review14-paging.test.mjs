// Review 14: listings past one page (PAGE = 5,000 rows) on PostgreSQL and MySQL: sessions(),
// leases(), listKeys() and a migration of every session return all of them, once each, in
// byte order; names that are prefixes of one another or hold NUL sit on the page boundaries.
import test from 'ava'

import { migrate, openStore } from '../index.mjs'
import { dropAll, myStore, pgStore } from './helpers/review14.mjs'
import { mysqlAvailable, postgresAvailable } from './helpers/sql-servers.mjs'
import { tempDb } from './helpers/temp.mjs'

test.after.always(dropAll)

const byBytes = (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
const N = 5003

// Names around every page boundary: each base name, the same with NUL, and a longer one.
const sessionNames = () => {
  const names = []
  for (let i = 0; names.length < N; i++) {
    const base = `s${String(i).padStart(5, '0')}`
    names.push(base, `${base}\0`, `${base}x`)
  }
  return names.slice(0, N)
}

const backends = [
  ['postgres', postgresAvailable, () => pgStore().url],
  ['mysql', mysqlAvailable, () => myStore().url],
]

for (const [name, available, make] of backends) {
  test(`${name}: ${N} sessions, ${N} leases and 10,001 keys of one session list whole, once each, in byte order, and migrate whole`, async (t) => {
    if (!available()) return t.pass()
    const url = make()
    const store = await openStore(url, { commandTimeoutMs: 60_000 })
    t.teardown(() => store.close())
    const names = sessionNames()
    // Some sessions whose only key was deleted: a session row with no data, not listed.
    const emptied = names.filter((_, i) => i % 997 === 3)
    await Promise.all(names.map((s) => store.setCreds(s, { s })))
    await Promise.all(emptied.map((s) => store.setKeys(`${s}-gone`, { t: { a: { v: 1 } } })))
    await Promise.all(emptied.map((s) => store.setKeys(`${s}-gone`, { t: { a: null } })))
    const sessions = await store.sessions()
    t.is(sessions.length, N)
    t.deepEqual(sessions, [...names].sort(byBytes))

    const granted = await store.acquireLeases(names, names.map(() => 'refuse'), 600_000)
    t.true(granted.every((g) => g.lease))
    const leases = await store.leases()
    t.is(leases.length, N)
    t.deepEqual(leases.map((l) => l.session), [...names].sort(byBytes))
    // The emptied sessions' placeholder rows are not leases.
    t.false(leases.some((l) => l.session.endsWith('-gone')))
    const released = await Promise.all(names.map((s, i) => store.releaseLease(s, granted[i].lease.fence)))
    t.is(released.length, N)

    const data = {}
    const ids = []
    for (let i = 0; i < 10_001; i++) {
      const type = `type${i % 3}`
      const id = i % 5 === 0 ? `id${i}\0${i}` : `id${i}`
      ;(data[type] ??= {})[id] = { i }
      ids.push(`${type}/${id}`)
    }
    await store.setKeys('big', data)
    const keys = await store.listKeys('big')
    t.is(keys.length, 10_001)
    const listed = keys.map((k) => `${k.type}/${k.id}`)
    t.is(new Set(listed).size, 10_001)
    const expected = Object.keys(data)
      .sort(byBytes)
      .flatMap((type) => Object.keys(data[type]).sort(byBytes).map((id) => `${type}/${id}`))
    t.deepEqual(listed, expected)

    const target = tempDb()
    const result = await migrate({ from: store, to: target.url })
    t.is(result.sessions.length, N, `skipped ${JSON.stringify(result.skipped.slice(0, 3))}`)
    const copy = await openStore(target.url)
    t.teardown(() => copy.close())
    t.deepEqual(await copy.sessions(), [...names].sort(byBytes))
    t.deepEqual(await copy.getCreds(names[4999]), { s: names[4999] })
  })
}
