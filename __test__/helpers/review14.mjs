// Review 14's helpers: stores of their own on the machine's PostgreSQL (schema rv14_<pid>_<n>)
// and MariaDB (table prefix rv14_<pid>_<n>_), dropped by `dropAll` (call it in test.after.always,
// it also runs at exit), plain SQL through psql / mariadb, and a second connection that holds a
// row lock until released (a stalled server, as another client's long transaction makes it).
import { spawn, spawnSync } from 'node:child_process'

import { mysqlAvailable, postgresAvailable } from './sql-servers.mjs'

const PG_ARGS = ['-h', '127.0.0.1', '-p', '5432', '-U', 'postgres', '-d', 'test']
const MY_ARGS = ['-h', '127.0.0.1', '-P', '3306', '-u', 'root', 'test']

export const pgSql = (sql) => {
  const r = spawnSync('psql', ['-qAtX', '-v', 'ON_ERROR_STOP=1', ...PG_ARGS, '-c', sql], { encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`)
  return r.stdout.trim()
}

export const mySql = (sql) => {
  const r = spawnSync('mariadb', ['-N', '-B', ...MY_ARGS, '-e', sql], { encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0) throw new Error(`mariadb failed: ${r.stderr}`)
  return r.stdout.trim()
}

let made = 0
const schemas = new Set()
const prefixes = new Set()

/** A new, empty PostgreSQL store location: { url, schema }. */
export function pgStore() {
  const schema = `rv14_${process.pid}_${++made}`
  schemas.add(schema)
  return { url: `postgres://postgres@127.0.0.1:5432/test?schema=${schema}`, schema }
}

/** A new, empty MySQL store location: { url, prefix }. */
export function myStore() {
  const prefix = `rv14_${process.pid}_${++made}_`
  prefixes.add(prefix)
  return { url: `mysql://root@127.0.0.1:3306/test?tablePrefix=${prefix}`, prefix }
}

export const myTables = (prefix) => ['sessions', 'keys', 'leases', 'store_records', 'schema_version'].map((t) => `\`${prefix}${t}\``).join(', ')

export function dropAll() {
  if (schemas.size > 0 && postgresAvailable()) {
    try {
      pgSql([...schemas].map((s) => `DROP SCHEMA IF EXISTS "${s}" CASCADE;`).join('\n'))
      schemas.clear()
    } catch {}
  }
  if (prefixes.size > 0 && mysqlAvailable()) {
    try {
      mySql([...prefixes].map((p) => `DROP TABLE IF EXISTS ${myTables(p)};`).join('\n'))
      prefixes.clear()
    } catch {}
  }
}
process.on('exit', dropAll)

/**
 * Opens a transaction on a second connection and runs `lockSql` in it (a `SELECT … FOR UPDATE`,
 * a `LOCK TABLE`); `locked` resolves once the lock is held, `release()` commits and waits for
 * the client to exit.
 */
export function holdLock(server, lockSql) {
  const [cmd, args, marker] =
    server === 'postgres'
      ? ['psql', ['-qAtX', ...PG_ARGS], '\\echo LOCKED']
      : ['mariadb', ['-N', '-B', '-n', ...MY_ARGS], "SELECT 'LOCKED';"]
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  const exited = new Promise((resolve) => child.on('exit', resolve))
  const locked = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('LOCKED')) resolve()
    })
    exited.then(() => reject(new Error(`the locking client exited: ${err}`)))
  })
  locked.catch(() => {})
  child.stdin.write(`BEGIN;\n${lockSql};\n${marker}\n`)
  let released
  return {
    locked,
    release: () => {
      released ??= (child.stdin.end('COMMIT;\n'), exited)
      return released
    },
  }
}
