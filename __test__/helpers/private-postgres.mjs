// A private PostgreSQL server for tests that kill it: its own data directory and socket in a
// temporary directory, on a free loopback port, SIGKILLed by pid and restarted on the same port
// and data (the Rust twin is tests/common/postgres_server.rs). As root it runs as the `postgres`
// user through setpriv (PostgreSQL refuses root), which execs the server: the pid is the
// postmaster's. Everything started here is killed when the test process exits.
import { spawn, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { until } from './until.mjs'

/** The newest installed server's binaries (Debian: /usr/lib/postgresql/<major>/bin), or null. */
function binDir() {
  if (!existsSync('/usr/lib/postgresql')) return null
  const majors = readdirSync('/usr/lib/postgresql').map(Number).filter(Number.isFinite).sort((a, b) => a - b)
  return majors.length ? `/usr/lib/postgresql/${majors.at(-1)}/bin` : null
}

const live = new Set()
process.on('exit', () => {
  for (const server of live) server.killNow()
})

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

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
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
  let child = null
  const server = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    get pid() {
      return child?.pid
    },
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
    /** Starts it on its port and data; retries while a killed server's backends still hold its memory. */
    async start() {
      await until(async () => {
        const log = openSync(join(dir, 'server.log'), 'a')
        const [cmd, args] = asServerUser(join(bin, 'postgres'), ['-D', join(dir, 'data'), '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1'])
        child = spawn(cmd, args, { stdio: ['ignore', 'ignore', log] })
        const ready = await until(
          () => child.exitCode !== null || spawnSync(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres']).status === 0,
          'the private PostgreSQL to answer or exit',
        )
        return ready && child.exitCode === null
      }, `the private PostgreSQL to start (see ${join(dir, 'server.log')})`)
    },
    async stop() {
      await server.kill()
      live.delete(server)
      rmSync(dir, { recursive: true, force: true })
    },
  }
  live.add(server)
  await server.start()
  return server
}
