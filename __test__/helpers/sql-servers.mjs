// The machine's PostgreSQL and MySQL/MariaDB servers for tests that need no fault: each call of
// `postgresUrl()` / `mysqlUrl()` is a new, empty store (its own schema or table prefix in the
// `test` database), dropped when the test process exits. Tests that kill a server start their
// own (see the Rust fault tests in tests/postgres.rs and tests/mysql.rs).
//
// Where a server is not reachable, `BACKENDS` leaves it out locally; in CI (`CI=true`) it is
// kept, so that its tests fail rather than skip (.ci/run installs and starts both servers).
import { spawnSync } from 'node:child_process'

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' }
const MY = { host: '127.0.0.1', port: 3306, user: 'root', database: 'test' }

const inCi = process.env.CI === 'true'

function runs(cmd, argv) {
  return spawnSync(cmd, argv, { stdio: 'ignore', timeout: 10_000 }).status === 0
}

let pgUp
/** Whether the machine's PostgreSQL answers (or this is CI, where it must). */
export function postgresAvailable() {
  pgUp ??= inCi || runs('pg_isready', ['-q', '-h', PG.host, '-p', String(PG.port)])
  return pgUp
}

let myUp
/** Whether the machine's MariaDB/MySQL answers (or this is CI, where it must). */
export function mysqlAvailable() {
  myUp ??= inCi || runs('mariadb-admin', ['-h', MY.host, '-P', String(MY.port), '-u', MY.user, '--silent', 'ping'])
  return myUp
}

/**
 * For ava tests that need both servers: `if (!requireSqlServers(t)) return`. A missing server
 * FAILS the test in CI and otherwise logs and passes.
 */
export function requireSqlServers(t) {
  const missing = [!postgresAvailable() && 'PostgreSQL', !mysqlAvailable() && 'MySQL'].filter(Boolean)
  if (missing.length === 0) return true
  t.log(`no ${missing.join(' or ')} server answers here: skipping`)
  t.pass()
  return false
}

let made = 0
const schemas = []
const prefixes = []

/** A name no other test process uses: `bra_<pid>_<n>`. */
function freshName() {
  made += 1
  return `bra_${process.pid}_${made}`
}

/** The URL of a new, empty PostgreSQL store: a schema of its own, dropped at exit. */
export function postgresUrl() {
  const schema = freshName()
  schemas.push(schema)
  return `postgres://${PG.user}@${PG.host}:${PG.port}/${PG.database}?schema=${schema}`
}

/** The URL of a new, empty MySQL store: a table prefix of its own, its tables dropped at exit. */
export function mysqlUrl() {
  const prefix = `${freshName()}_`
  prefixes.push(prefix)
  return `mysql://${MY.user}@${MY.host}:${MY.port}/${MY.database}?tablePrefix=${prefix}`
}

process.on('exit', () => {
  if (schemas.length > 0) {
    const sql = schemas.map((s) => `DROP SCHEMA IF EXISTS "${s}" CASCADE;`).join('\n')
    spawnSync('psql', ['-q', '-h', PG.host, '-p', String(PG.port), '-U', PG.user, '-d', PG.database, '-c', sql], { stdio: 'ignore', timeout: 30_000 })
  }
  if (prefixes.length > 0) {
    // The tables of this process's prefixes (`_` is a LIKE wildcard: escaped), dropped in one statement.
    const like = prefixes.map((p) => `table_name LIKE '${p.replaceAll('_', '\\\\_')}%'`).join(' OR ')
    const list = spawnSync(
      'mariadb',
      ['-N', '-B', '-h', MY.host, '-P', String(MY.port), '-u', MY.user, '-e', `SELECT table_name FROM information_schema.tables WHERE table_schema = '${MY.database}' AND (${like})`],
      { encoding: 'utf8', timeout: 30_000 },
    )
    const tables = (list.stdout ?? '').split('\n').filter(Boolean)
    if (tables.length > 0) {
      const drop = `SET FOREIGN_KEY_CHECKS = 0; DROP TABLE IF EXISTS ${tables.map((t) => `\`${t}\``).join(', ')};`
      spawnSync('mariadb', ['-h', MY.host, '-P', String(MY.port), '-u', MY.user, MY.database, '-e', drop], { stdio: 'ignore', timeout: 30_000 })
    }
  }
})
