// Private Redis servers for tests: every server runs from its own temporary directory on a
// free loopback port (or a unix socket in that directory), is stopped by its pid, and is
// SIGKILLed when the test process exits. The machine's shared Redis (port 6379) is never
// used. Only node built-ins: `redisCommand` is a tiny RESP client to inspect keys.
import { execFile, spawn, spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const SHARED_PORT = 6379
// Generous: on a loaded machine the test process's own event loop (other tests' Signal crypto
// in the same worker) can hold back the answer for seconds.
const START_TIMEOUT_MS = 60_000
const CLUSTER_TIMEOUT_MS = 60_000
const PROBE_TIMEOUT_MS = 5_000
/** Attempts when a server loses a race for a port it was given by `freePort`. */
const PORT_ATTEMPTS = 5

// ---------------------------------------------------------------------------------------
// Availability

let available
/** Whether redis-server (and redis-cli, needed for clusters) can be run here. */
export function redisAvailable() {
  if (available === undefined) {
    const runs = (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0
    available = runs('redis-server') && runs('redis-cli')
  }
  return available
}

/**
 * For ava tests: `if (!requireRedis(t)) return`. Without redis-server the test FAILS in CI
 * (`CI=true`) and otherwise logs and passes (ava fails tests that make no assertion).
 */
export function requireRedis(t) {
  if (redisAvailable()) return true
  if (process.env.CI === 'true') {
    t.fail('redis-server is not installed; .ci/run installs it')
  } else {
    t.log('redis-server is not installed here: skipping (in CI this fails)')
    t.pass()
  }
  return false
}

// ---------------------------------------------------------------------------------------
// Bookkeeping: everything started here dies with the test process.

/** Live server processes: pid -> ChildProcess. */
const live = new Map()
/** Temp dirs to remove. */
const dirs = new Set()
/** Handles returned by startRedis / startRedisCluster that are not stopped yet. */
const handles = new Set()

function killAllSync() {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  live.clear()
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {}
  }
  dirs.clear()
}

process.on('exit', killAllSync)
// 'exit' does not run when a signal ends the process; clean up then too, and re-raise the
// signal when nobody else handles it so the default behaviour (terminate) is kept.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  const onSignal = () => {
    killAllSync()
    if (process.listenerCount(sig) === 1) {
      process.removeListener(sig, onSignal)
      process.kill(process.pid, sig)
    }
  }
  process.on(sig, onSignal)
}

/** Stop everything this module started and remove its temp dirs. */
export async function stopAll() {
  await Promise.all([...handles].map((h) => h.stop()))
  killAllSync()
}

// ---------------------------------------------------------------------------------------
// Helpers

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** A port that was free on 127.0.0.1 a moment ago (never 6379). */
export async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const srv = createServer()
      srv.unref()
      srv.on('error', reject)
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address()
        srv.close(() => resolve(port))
      })
    })
    if (port !== SHARED_PORT) return port
  }
}

/** The end of <dir>/redis.log, plus redis.stderr (config errors are reported there). */
function logTail(dir, lines = 30) {
  const tail = (name) => {
    try {
      const text = readFileSync(join(dir, name), 'utf8').trimEnd()
      return text && text.split('\n').slice(-lines).join('\n')
    } catch (e) {
      return `(no ${name}: ${e.code ?? e.message})`
    }
  }
  const stderr = tail('redis.stderr')
  return tail('redis.log') + (stderr ? `\n--- redis.stderr ---\n${stderr}` : '')
}

function waitExit(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

/**
 * Spawn one redis-server (args built by the caller) and wait until it is ours and ready:
 * INFO reports our pid (not some other server that won the port) and PING answers PONG
 * (not -LOADING while an AOF is replayed).
 * Resolves { child } or rejects; `bindLost` is set on the error when the server exited
 * while starting and its log says the port was taken.
 */
async function spawnReady(dir, args, target) {
  // stdout ignored; stderr to a file (no pipe keeps this process busy) for config errors,
  // which redis-server prints before it opens its logfile.
  const stderrFd = openSync(join(dir, 'redis.stderr'), 'a')
  let child
  try {
    child = spawn('redis-server', args, { detached: false, stdio: ['ignore', 'ignore', stderrFd] })
  } finally {
    closeSync(stderrFd)
  }
  // Do not keep the test process alive just because a server runs; 'exit' kills it.
  child.unref()
  if (child.pid === undefined) {
    // spawn failed (e.g. ENOENT); the 'error' event follows on the next tick
    const e = await new Promise((resolve) => child.once('error', resolve))
    throw new Error(`redis-server could not be spawned: ${e.message}`)
  }
  let spawnError
  child.once('error', (e) => (spawnError = e))
  live.set(child.pid, child)
  child.once('exit', () => live.delete(child.pid))

  const fail = async (why, bindLost = false) => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.ref()
      try {
        process.kill(child.pid, 'SIGKILL')
      } catch {}
      await waitExit(child)
    }
    const tail = logTail(dir)
    const err = new Error(`redis-server ${why}\n--- ${join(dir, 'redis.log')} ---\n${tail}`)
    err.bindLost = bindLost || /Address already in use|Could not create server TCP listening socket/i.test(tail)
    throw err
  }

  const deadline = Date.now() + START_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (spawnError) await fail(`could not be spawned: ${spawnError.message}`)
    if (child.exitCode !== null || child.signalCode !== null) {
      await fail(`exited while starting (code ${child.exitCode}, signal ${child.signalCode})`)
    }
    try {
      const info = (await redisCommand({ ...target, timeout: PROBE_TIMEOUT_MS }, 'INFO', 'server')).toString()
      const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1])
      if (pid !== child.pid) {
        await fail(`lost its address to another server (pid ${pid}) at ${JSON.stringify(target)}`, true)
      }
      if ((await redisCommand({ ...target, timeout: PROBE_TIMEOUT_MS }, 'PING')) === 'PONG') return { child }
    } catch (e) {
      if (e.message?.startsWith('redis-server ')) throw e
      // not listening yet, or -LOADING: poll again
    }
    await sleep(25)
  }
  return fail(`did not answer PING within ${START_TIMEOUT_MS / 1000} s`)
}

function baseArgs(dir, port) {
  return [
    '--daemonize', 'no',
    '--save', '',
    '--dir', dir,
    '--bind', '127.0.0.1',
    '--port', String(port),
    '--protected-mode', 'no',
    '--logfile', join(dir, 'redis.log'),
  ]
}

function checkPort(port) {
  if (port === SHARED_PORT) throw new Error('refusing to use port 6379 (the shared Redis)')
}

// ---------------------------------------------------------------------------------------
// Standalone server

/**
 * Start a private standalone redis-server in a fresh temp dir.
 * opts: { unixSocket?, appendonly?, appendfsync?: 'always'|'everysec', port?, extraArgs? }
 * Returns { url, port, socket, dir, pid, kill(signal = 'SIGKILL'), restart(), stop() }.
 * `port` is null with unixSocket, `socket` is null without; `pid` changes on restart().
 */
export async function startRedis(opts = {}) {
  const { unixSocket = false, appendonly = false, appendfsync, extraArgs = [] } = opts
  if (opts.port !== undefined) checkPort(opts.port)
  const dir = mkdtempSync(join(tmpdir(), 'bra-redis-'))
  dirs.add(dir)
  const socket = unixSocket ? join(dir, 'redis.sock') : null
  let port = unixSocket ? null : (opts.port ?? null)
  let child = null
  let stopped = false

  const argsFor = (p) => {
    const args = baseArgs(dir, unixSocket ? 0 : p)
    if (unixSocket) args.push('--unixsocket', socket, '--unixsocketperm', '700')
    args.push('--appendonly', appendonly ? 'yes' : 'no')
    if (appendfsync) args.push('--appendfsync', appendfsync)
    args.push(...extraArgs)
    return args
  }

  /** Start on the current port/socket; pick (and re-pick on a lost race) a port if unset. */
  const launch = async (mayRepick) => {
    for (let attempt = 1; ; attempt++) {
      if (!unixSocket && port === null) port = await freePort()
      const target = unixSocket ? { socket } : { port }
      try {
        ;({ child } = await spawnReady(dir, argsFor(port), target))
        return
      } catch (e) {
        if (!e.bindLost || attempt >= PORT_ATTEMPTS) throw e
        if (mayRepick) port = null
        else await sleep(200) // restart(): keep the same port, wait for it to be released
      }
    }
  }

  const alive = () => child !== null && child.exitCode === null && child.signalCode === null

  const handle = {
    url: '',
    port,
    socket,
    dir,
    pid: 0,
    /** Send `signal` to the server and wait until it has exited (SIGKILL after 10 s). */
    async kill(signal = 'SIGKILL') {
      if (!alive()) return
      const c = child
      c.ref()
      try {
        process.kill(c.pid, signal)
      } catch (e) {
        if (e.code !== 'ESRCH') throw e
      }
      const timer = setTimeout(() => {
        try {
          process.kill(c.pid, 'SIGKILL')
        } catch {}
      }, 10_000)
      await waitExit(c)
      clearTimeout(timer)
    },
    /** Start again with the same dir, port/socket and options (SIGKILLs it first if running). */
    async restart() {
      if (stopped) throw new Error('restart() after stop()')
      await handle.kill('SIGKILL')
      await launch(false)
      handle.pid = child.pid
    },
    /** Kill the server and remove its dir. */
    async stop() {
      if (stopped) return
      stopped = true
      handles.delete(handle)
      await handle.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
      dirs.delete(dir)
    },
  }

  try {
    await launch(opts.port === undefined)
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    dirs.delete(dir)
    throw e
  }
  handle.port = port
  handle.pid = child.pid
  handle.url = unixSocket ? `redis+unix://${socket}` : `redis://127.0.0.1:${port}`
  handles.add(handle)
  return handle
}

// ---------------------------------------------------------------------------------------
// Cluster

function runRedisCli(args, timeout = CLUSTER_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\n${stdout}\n${stderr}`
        reject(err)
      } else resolve(stdout)
    })
  })
}

/**
 * Start a 3-master Redis Cluster (no replicas) on loopback, each node in its own temp dir,
 * and wait until every node reports cluster_state:ok and knows all 3 nodes.
 * Returns { url: 'redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3',
 *           nodes: [{ port, pid, dir }], stop() }.
 */
export async function startRedisCluster() {
  const nodes = []
  const started = [] // { child, dir }
  let stopped = false

  const stop = async () => {
    if (stopped) return
    stopped = true
    handles.delete(cluster)
    await Promise.all(
      started.map(async ({ child, dir }) => {
        if (child.exitCode === null && child.signalCode === null) {
          child.ref()
          try {
            process.kill(child.pid, 'SIGKILL')
          } catch {}
          await waitExit(child)
        }
        rmSync(dir, { recursive: true, force: true })
        dirs.delete(dir)
      }),
    )
  }
  const cluster = { url: '', nodes, stop }
  handles.add(cluster)

  const startNode = async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bra-redis-cluster-'))
    dirs.add(dir)
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      // The cluster bus gets its own free port (Redis >= 7.0) instead of port + 10000,
      // which may be taken or above 65535.
      let busPort = await freePort()
      while (busPort === port) busPort = await freePort()
      const args = [
        ...baseArgs(dir, port),
        '--appendonly', 'no',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', '2000',
        '--cluster-port', String(busPort),
      ]
      try {
        const { child } = await spawnReady(dir, args, { port })
        started.push({ child, dir })
        return { port, pid: child.pid, dir }
      } catch (e) {
        if (!e.bindLost || attempt >= PORT_ATTEMPTS) {
          rmSync(dir, { recursive: true, force: true })
          dirs.delete(dir)
          throw e
        }
        rmSync(join(dir, `nodes-${port}.conf`), { force: true })
      }
    }
  }

  try {
    // One at a time: parallel freePort() calls could hand two nodes the same port.
    for (let i = 0; i < 3; i++) nodes.push(await startNode())
    const addrs = nodes.map((n) => `127.0.0.1:${n.port}`)
    await runRedisCli(['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes'])

    const deadline = Date.now() + CLUSTER_TIMEOUT_MS
    for (;;) {
      const infos = await Promise.all(
        nodes.map((n) =>
          redisCommand({ port: n.port, timeout: PROBE_TIMEOUT_MS }, 'CLUSTER', 'INFO').then(String, (e) => e.message),
        ),
      )
      const ok = infos.every(
        (i) =>
          /^cluster_state:ok\r?$/m.test(i) &&
          /^cluster_slots_ok:16384\r?$/m.test(i) &&
          /^cluster_known_nodes:3\r?$/m.test(i),
      )
      if (ok) break
      if (Date.now() > deadline) {
        throw new Error(
          `cluster not ok after ${CLUSTER_TIMEOUT_MS / 1000} s:\n` +
            nodes.map((n, k) => `--- ${n.port} ---\n${infos[k]}\n${logTail(n.dir, 15)}`).join('\n'),
        )
      }
      await sleep(50)
    }
    cluster.url = `redis+cluster://${addrs.join(',')}`
    return cluster
  } catch (e) {
    await stop()
    throw e
  }
}

// ---------------------------------------------------------------------------------------
// Raw RESP client

function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a))
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

class RedisReplyError extends Error {
  constructor(message) {
    super(message)
    this.name = 'RedisReplyError'
    this.code = message.split(' ', 1)[0] // e.g. 'MOVED', 'ERR', 'WRONGTYPE'
  }
}

/**
 * Parse one RESP2 reply at buf[pos]. Returns [value, nextPos], or null if incomplete.
 * Errors are returned as RedisReplyError values (rejected by redisCommand at top level).
 */
function parseReply(buf, pos) {
  const eol = buf.indexOf('\r\n', pos)
  if (eol === -1) return null
  const type = String.fromCharCode(buf[pos])
  const line = buf.toString('utf8', pos + 1, eol)
  const next = eol + 2
  switch (type) {
    case '+':
      return [line, next]
    case '-':
      return [new RedisReplyError(line), next]
    case ':':
      return [Number(line), next]
    case '$': {
      const len = Number(line)
      if (len < 0) return [null, next]
      if (buf.length < next + len + 2) return null
      return [buf.subarray(next, next + len), next + len + 2]
    }
    case '*': {
      const n = Number(line)
      if (n < 0) return [null, next]
      const items = []
      let p = next
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p)
        if (r === null) return null
        items.push(r[0])
        p = r[1]
      }
      return [items, p]
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`)
  }
}

/**
 * Send one command to a Redis server and resolve with its reply: simple string -> string,
 * integer -> number, bulk string -> Buffer | null, array -> array (nested errors as Error
 * values); an error reply rejects (err.code is its first word, e.g. 'MOVED').
 * target: { port, host = '127.0.0.1' } or { socket } (a startRedis() handle works), and
 * optionally { timeout } in ms (default 5000).
 */
export function redisCommand(target, ...args) {
  const { socket: path, port, host = '127.0.0.1', timeout = 5000 } = target
  if (!path && port === SHARED_PORT) {
    return Promise.reject(new Error('refusing to talk to port 6379 (the shared Redis)'))
  }
  return new Promise((resolve, reject) => {
    const conn = path ? connect({ path }) : connect({ port, host })
    let buf = Buffer.alloc(0)
    let done = false
    const finish = (err, value) => {
      if (done) return
      done = true
      conn.destroy()
      err ? reject(err) : resolve(value)
    }
    conn.setTimeout(timeout, () => finish(new Error(`redisCommand ${args[0]}: timed out after ${timeout} ms`)))
    conn.on('error', (e) => finish(e))
    conn.on('close', () => finish(new Error(`redisCommand ${args[0]}: connection closed before a reply`)))
    conn.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk
      let r
      try {
        r = parseReply(buf, 0)
      } catch (e) {
        return finish(e)
      }
      if (r === null) return
      const [value] = r
      value instanceof RedisReplyError ? finish(value) : finish(null, value)
    })
    conn.write(encodeCommand(args))
  })
}
