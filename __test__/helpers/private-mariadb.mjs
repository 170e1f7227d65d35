// A private MariaDB for tests that kill it: its own data directory and socket in a temporary
// directory, on a free loopback port, SIGKILLed by pid and restarted on the same port and data
// (the Rust twin is PrivateMariadb in tests/common/mysql_server.rs).
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, openSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { freePort, superviseServer } from './private-server.mjs'

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
  const log = join(dir, 'server.log')
  const server = await superviseServer({
    name: 'MariaDB',
    url: `mysql://root@127.0.0.1:${port}/t`,
    dir,
    log,
    // InnoDB recovers what a kill left when it starts again.
    launch: () =>
      spawn(
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
        { stdio: ['ignore', 'ignore', openSync(log, 'a')] },
      ),
    answers: () => client('mariadb-admin', ['--silent', 'ping']).status === 0,
  })
  if (client('mariadb', ['-e', 'CREATE DATABASE IF NOT EXISTS t']).status !== 0) throw new Error('cannot create the database t')
  return server
}
