// What the private servers of the fault tests share (private-postgres.mjs, private-mariadb.mjs):
// a server process in a temporary directory, SIGKILLed by pid and started again on the same
// port and data, and killed when the test process exits.
import { createServer } from 'node:net'
import { rmSync } from 'node:fs'

import { until } from './until.mjs'

const live = new Set()
process.on('exit', () => {
  for (const server of live) server.killNow()
})

/** A free port of 127.0.0.1. */
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

/**
 * A server run from `dir`: `launch()` spawns it and returns the child, `answers()` tells whether
 * it accepts connections. `start()` tries again while a launch exits early (a killed server's
 * processes may still hold what the new one needs). Started once before it is returned.
 */
export async function superviseServer({ name, url, dir, log, launch, answers }) {
  let child = null
  const server = {
    url,
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
    /** Starts it on its port and data. */
    async start() {
      await until(async () => {
        child = launch()
        const ready = await until(() => child.exitCode !== null || answers(), `the private ${name} to answer or exit`)
        return ready && child.exitCode === null
      }, `the private ${name} to start (see ${log})`)
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
