// A private MariaDB for tests that kill it: its own data directory and socket in a temporary
// directory, on a free loopback port, SIGKILLed by pid and restarted on the same port and data
// (the Rust twin is PrivateMariadb in tests/common/mysql_server.rs). Everything started here is
// killed when the test process exits.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, openSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { freePort } from './private-postgres.mjs'
import { until } from './until.mjs'

const live = new Set()
process.on('exit', () => {
  for (const server of live) server.killNow()
})

const has = (program) => spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0

/** Whether a private server can be started here (in CI it must: callers fail then). */
export const privateMariadbAvailable = () => ['mariadbd', 'mariadb-install-db', 'mariadb-admin', 'mariadb'].every(has)

/** Starts a new server; `url` is its TCP URL (user root without password, database `t`). */
export async function startPrivateMariadb() {
  const dir = mkdtempSync(join(tmpdir(), 'bra-mariadb-'))
  const data = join(dir, 'data')
  const install = spawnSync(
    'mariadb-install-db',
    ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root', '--skip-name-resolve'],
    { stdio: 'ignore' },
  )
  if (install.status !== 0) throw new Error(`mariadb-install-db failed (${install.status})`)
  const port = await freePort()
  const client = (program, args) => spawnSync(program, ['--no-defaults', '--protocol=tcp', '-h', '127.0.0.1', '-P', String(port), '-u', 'root', ...args])
  let child = null
  const server = {
    url: `mysql://root@127.0.0.1:${port}/t`,
    killNow() {
      if (child && child.exitCode === null) child.kill('SIGKILL')
    },
    /** SIGKILL, no shutdown: what a crash or an OOM kill does; resolves once it is gone. */
    async kill() {
      if (!child || child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    },
    /** Starts it on its port and data (InnoDB recovers what the kill left). */
    async start() {
      const log = openSync(join(dir, 'server.log'), 'a')
      child = spawn(
        'mariadbd',
        [
          '--no-defaults',
          `--datadir=${data}`,
          `--port=${port}`,
          `--socket=${join(dir, 's')}`,
          `--pid-file=${join(dir, 'pid')}`,
          '--bind-address=127.0.0.1',
          '--user=root',
          '--skip-log-bin',
          '--skip-name-resolve',
          '--skip-grant-tables',
          '--innodb-buffer-pool-size=16M',
          '--innodb-log-file-size=16M',
          '--innodb-flush-log-at-trx-commit=1',
          '--performance-schema=OFF',
        ],
        { stdio: ['ignore', 'ignore', log] },
      )
      await until(
        () => child.exitCode !== null || client('mariadb-admin', ['--silent', 'ping']).status === 0,
        `the private MariaDB to answer or exit (see ${join(dir, 'server.log')})`,
      )
      if (child.exitCode !== null) throw new Error(`mariadbd exited (${child.exitCode}); see ${join(dir, 'server.log')}`)
    },
    async stop() {
      await server.kill()
      live.delete(server)
      rmSync(dir, { recursive: true, force: true })
    },
  }
  live.add(server)
  await server.start()
  if (client('mariadb', ['-e', 'CREATE DATABASE IF NOT EXISTS t']).status !== 0) throw new Error('cannot create the database t')
  return server
}
