// A private PostgreSQL server for tests that kill it: its own data directory and socket in a
// temporary directory, on a free loopback port, SIGKILLed by pid and restarted on the same port
// and data (the Rust twin is tests/common/postgres_server.rs). As root it runs as the `postgres`
// user through setpriv (PostgreSQL refuses root), which execs the server: the pid is the
// postmaster's.
import { spawn, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, openSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { freePort, superviseServer } from './private-server.mjs'

/** The newest installed server's binaries (Debian: /usr/lib/postgresql/<major>/bin), or null. */
function binDir() {
  if (!existsSync('/usr/lib/postgresql')) return null
  const majors = readdirSync('/usr/lib/postgresql').map(Number).filter(Number.isFinite).sort((a, b) => a - b)
  return majors.length ? `/usr/lib/postgresql/${majors.at(-1)}/bin` : null
}

/** Whether a private server can be started here (in CI it must: callers fail then). */
export const privatePostgresAvailable = () => binDir() !== null

function serverUser() {
  if (process.getuid?.() !== 0) return null
  const id = (flag) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim())
  const uid = id('-u')
  return Number.isInteger(uid) && uid > 0 ? { uid, gid: id('-g') } : null
}

function asServerUser(program, args) {
  const user = serverUser()
  return user ? ['setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', program, ...args]] : [program, args]
}

/** Starts a new server; `url` is its TCP URL (database and user `postgres`, trust). */
export async function startPrivatePostgres() {
  const bin = binDir()
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql')
  const dir = mkdtempSync(join(tmpdir(), 'bra-pg-'))
  const user = serverUser()
  if (user) chownSync(dir, user.uid, user.gid)
  const [cmd, args] = asServerUser(join(bin, 'initdb'), ['-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '-N', '-D', join(dir, 'data')])
  const init = spawnSync(cmd, args, { stdio: 'ignore' })
  if (init.status !== 0) throw new Error(`initdb failed (${init.status})`)
  const port = await freePort()
  const log = join(dir, 'server.log')
  return superviseServer({
    name: 'PostgreSQL',
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    log,
    launch() {
      const [cmd, args] = asServerUser(join(bin, 'postgres'), ['-D', join(dir, 'data'), '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1'])
      return spawn(cmd, args, { stdio: ['ignore', 'ignore', openSync(log, 'a')] })
    },
    answers: () => spawnSync(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres']).status === 0,
  })
}
