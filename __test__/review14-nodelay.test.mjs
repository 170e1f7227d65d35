// Review 14: src/core/sql/nodelay.rs scans /proc/self/fd and sets TCP_NODELAY on every socket
// connected to the SQL server as each connection opens. It must not disturb any other
// descriptor of the process: a SQLite store written in the same process while SQL stores open
// and reconnect over and over stays whole (integrity check) and holds every write.
import test from 'ava'

import { openStore } from '../index.mjs'
import { dropAll, myStore, pgStore } from './helpers/review14.mjs'
import { mysqlAvailable, postgresAvailable } from './helpers/sql-servers.mjs'
import { tempDb } from './helpers/temp.mjs'

test.after.always(dropAll)

test('a SQLite store in the same process as PostgreSQL and MySQL stores opening and reconnecting under load stays whole', async (t) => {
  const servers = [postgresAvailable() && pgStore().url, mysqlAvailable() && myStore().url].filter(Boolean)
  if (servers.length === 0) return t.pass()
  const { url } = tempDb()
  const lite = await openStore(url)
  t.teardown(() => lite.close())
  let stop = false
  let written = 0
  const liteLoad = (async () => {
    for (let i = 0; !stop; i++) {
      const data = {}
      for (let k = 0; k < 50; k++) data[`k${i}-${k}`] = { i, k }
      await Promise.all([lite.setKeys(`s${i % 7}`, { t: data }), lite.setCreds(`s${i % 7}`, { i })])
      written = i + 1
    }
  })()
  // Each open runs the descriptor scan; poolSize 8 with 16 concurrent reads makes each store
  // open several pooled connections, each scanning again.
  for (let round = 0; round < 15; round++) {
    await Promise.all(
      servers.map(async (server) => {
        const store = await openStore(server, { poolSize: 8 })
        await store.setKeys(`r${round}`, { t: { a: { round } } })
        await Promise.all(Array.from({ length: 16 }, () => store.getKeys(`r${round}`, 't', ['a'])))
        await store.close()
      }),
    )
  }
  stop = true
  await liteLoad
  t.true(written > 0)
  t.deepEqual(await lite.check(), [])
  for (let i = 0; i < written; i++) {
    const got = await lite.getKeys(`s${i % 7}`, 't', [`k${i}-0`, `k${i}-49`])
    t.deepEqual(got, { [`k${i}-0`]: { i, k: 0 }, [`k${i}-49`]: { i, k: 49 } })
  }
  t.log(`${written} SQLite batches written during 15 rounds of SQL store opens`)
})
