// The SQL server rows' servers: the machine's PostgreSQL and MariaDB/MySQL (override with
// BENCH_POSTGRES_URL / BENCH_MYSQL_URL), where every (store, workload, run) gets a namespace of
// its own (a schema for ours on PostgreSQL, a table prefix for ours on MySQL, one table for the
// pure-JS peers), named from the child's key prefix and dropped when the child is done (the
// populated coldstart stores when the suite is done).
import { spawnSync } from 'node:child_process'

export const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const MYSQL_URL = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'

/** A child's namespace from its key prefix: lowercase letters, digits and `_`. */
export const namespaceOf = (keyPrefix) => keyPrefix.toLowerCase().replace(/[^a-z0-9_]/g, '_')

/** Whether a server answers (`pg_isready`, `mariadb-admin ping`). */
export function sqlServerUp(server) {
  const probe =
    server === 'postgres'
      ? spawnSync('pg_isready', ['-q', '-d', POSTGRES_URL], { stdio: 'ignore' })
      : spawnSync('mariadb-admin', [...mysqlArgs(), '--silent', 'ping'], { stdio: 'ignore' })
  return probe.status === 0
}

function mysqlArgs() {
  const u = new URL(MYSQL_URL)
  return ['-h', u.hostname, '-P', u.port || '3306', '-u', decodeURIComponent(u.username || 'root'), ...(u.password ? [`-p${decodeURIComponent(u.password)}`] : [])]
}

/** Drops what the namespaces `like` (an SQL LIKE pattern over `bench_…` names) hold, on both servers. */
export function dropBenchData(like = 'bench\\_%') {
  if (sqlServerUp('postgres')) {
    const sql = `DO $$ DECLARE r record; BEGIN
      FOR r IN SELECT nspname FROM pg_namespace WHERE nspname LIKE '${like}' LOOP EXECUTE format('DROP SCHEMA %I CASCADE', r.nspname); END LOOP;
      FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE '${like}' LOOP EXECUTE format('DROP TABLE %I', r.tablename); END LOOP;
    END $$`
    spawnSync('psql', ['-q', '-d', POSTGRES_URL, '-c', sql], { stdio: 'ignore' })
  }
  if (sqlServerUp('mysql')) {
    const db = new URL(MYSQL_URL).pathname.slice(1)
    const list = spawnSync('mariadb', [...mysqlArgs(), '-N', '-B', '-e', `SELECT table_name FROM information_schema.tables WHERE table_schema = '${db}' AND table_name LIKE '${like.replaceAll('\\', '\\\\')}'`], { encoding: 'utf8' })
    const tables = (list.stdout ?? '').split('\n').filter(Boolean)
    if (tables.length) {
      spawnSync('mariadb', [...mysqlArgs(), db, '-e', `SET FOREIGN_KEY_CHECKS = 0; DROP TABLE IF EXISTS ${tables.map((t) => `\`${t}\``).join(', ')}`], { stdio: 'ignore' })
    }
  }
}

/** Drops one child's namespace (ours and the peer's) on both servers. */
export const dropNamespace = (namespace) => {
  dropBenchData(`bench\\_${namespace.replaceAll('_', '\\_')}%`)
  dropBenchData(`bench\\_peer\\_${namespace.replaceAll('_', '\\_')}%`)
}
