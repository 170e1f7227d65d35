// Review 14: migrations of the SQL stores. Several processes opening one new schema / prefix at
// once all succeed and create it once; a store of a newer schema version is refused
// ERR_STORE_VERSION and left untouched.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

import test from 'ava'

import { openStore } from '../index.mjs'
import { dropAll, myStore, mySql, pgSql, pgStore } from './helpers/review14.mjs'
import { mysqlAvailable, postgresAvailable } from './helpers/sql-servers.mjs'

test.after.always(dropAll)

const WORKER = fileURLToPath(new URL('./fixtures/review14-worker.mjs', import.meta.url))

function openIn(url) {
  const child = spawn(process.execPath, [WORKER, 'open', url], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })))
}

const backends = [
  {
    name: 'postgres',
    available: postgresAvailable,
    make: () => {
      const { url, schema } = pgStore()
      return {
        url,
        versions: () => pgSql(`SELECT string_agg(version::text, ',' ORDER BY version) FROM "${schema}".schema_version`),
        bump: () => pgSql(`INSERT INTO "${schema}".schema_version VALUES (99, 'future', 0)`),
        snapshot: () =>
          pgSql(
            `SELECT (SELECT count(*) FROM "${schema}".sessions) || '/' || (SELECT count(*) FROM "${schema}".keys) || '/' || (SELECT count(*) FROM "${schema}".leases) || '/' || (SELECT max(version) FROM "${schema}".schema_version) || '/' || (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = '${schema}')`,
          ),
      }
    },
  },
  {
    name: 'mysql',
    available: mysqlAvailable,
    make: () => {
      const { url, prefix } = myStore()
      return {
        url,
        versions: () => mySql(`SELECT version FROM \`${prefix}schema_version\``),
        bump: () => mySql(`UPDATE \`${prefix}schema_version\` SET version = 99`),
        snapshot: () =>
          mySql(
            `SELECT CONCAT((SELECT COUNT(*) FROM \`${prefix}sessions\`), '/', (SELECT COUNT(*) FROM \`${prefix}keys\`), '/', (SELECT COUNT(*) FROM \`${prefix}leases\`), '/', (SELECT version FROM \`${prefix}schema_version\`))`,
          ),
      }
    },
  },
]

for (const backend of backends) {
  test(`${backend.name}: eight processes opening one new store at once all succeed and migrate it once`, async (t) => {
    if (!backend.available()) return t.pass()
    for (let round = 0; round < 3; round++) {
      const { url, versions } = backend.make()
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => openIn(url)))
      for (const { code, out } of outcomes) t.is(code, 0, out)
      t.is(versions(), backend.name === 'postgres' ? '1,2,3' : '2')
      const store = await openStore(url)
      await store.setKeys('s', { t: { a: { v: 1 } } })
      t.deepEqual(await store.check(), [])
      await store.close()
    }
  })

  test(`${backend.name}: a store of a newer schema version is refused ERR_STORE_VERSION, with create true or false, and left untouched`, async (t) => {
    if (!backend.available()) return t.pass()
    const { url, bump, snapshot } = backend.make()
    const store = await openStore(url)
    await store.setKeys('s', { t: { a: { v: 1 } } })
    await store.setCreds('s', { c: 1 })
    await store.acquireLease('s')
    await store.close()
    bump()
    const before = snapshot()
    for (const create of [true, false]) {
      const err = await t.throwsAsync(openStore(url, { create }))
      t.is(err.code, 'ERR_STORE_VERSION', err.message)
    }
    t.is(snapshot(), before)
  })
}
