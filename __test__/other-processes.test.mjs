// Other processes and other paths on a live SQLite file: a reader opening the database, the
// CLI backing it up, a second name for the same file. SQLite coordinates connections through
// POSIX locks on the database and its -shm file; the store must never take, drop or bypass
// them, or the next process to open the file reinitialises the shared memory under the app
// (SIGBUS) or the app serves values another connection has replaced.
import test from 'ava'
import { execFile, spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

import { openStore } from '../index.mjs'
import { tempDir } from './helpers/temp.mjs'

const WRITER = fileURLToPath(new URL('./fixtures/busy-writer.mjs', import.meta.url))
const CLI = fileURLToPath(new URL('../bin/baileys-rust-auth.js', import.meta.url))
const INDEX = fileURLToPath(new URL('../index.mjs', import.meta.url))

/**
 * Starts the busy writer. `lastAck()` is the last acknowledged batch, `acks(n)` resolves once n
 * more are acknowledged (or the writer ended), `stop()` ends it and resolves to its exit.
 */
function startWriter(url, session) {
  const child = spawn(process.execPath, [WRITER, url, session], { stdio: ['pipe', 'pipe', 'inherit'] })
  let acked = -1
  let ended = false
  const lines = []
  const waiting = new Set()
  const wake = () => {
    for (const waiter of waiting) waiter()
  }
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line)
    const ack = /^ack (\d+)$/.exec(line)
    if (ack) acked = Number(ack[1])
    wake()
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  exited.then(() => {
    ended = true
    wake()
  })
  const until = (done) =>
    new Promise((resolve) => {
      const check = () => {
        if (!done() && !ended) return
        waiting.delete(check)
        resolve()
      }
      waiting.add(check)
      check()
    })
  return {
    ready: until(() => lines.includes('ready')),
    lastAck: () => acked,
    acks(n) {
      const target = acked + n
      return until(() => acked >= target)
    },
    lines,
    async stop() {
      child.stdin.end()
      return exited
    },
  }
}

/** Runs `program` (node by default) with `args`; resolves to { code, stdout, stderr }. */
function run(args, program = process.execPath) {
  return new Promise((resolve) => {
    execFile(program, args, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }))
  })
}

/** Every key k0..k<last> holds { n: i }. */
async function assertAcknowledgedWritesPresent(t, url, session, last) {
  const store = await openStore(url)
  const ids = Array.from({ length: last + 1 }, (_, i) => `k${i}`)
  const values = await store.getKeys(session, 'session', ids)
  const missing = ids.filter((id, i) => values[id]?.n !== i)
  t.deepEqual(missing, [], 'every acknowledged write is present')
  t.deepEqual(await store.check(), [])
  await store.close()
}

test('the app survives 200 opens of its database by another process, and keeps every acknowledged write', async (t) => {
  const dir = tempDir()
  const url = `sqlite:${join(dir, 'auth.db')}`
  const writer = startWriter(url, 'bot')
  await writer.ready
  // Another process opens the database 200 times (a reader, a monitoring script), each time
  // reading and closing, while the app writes.
  const reader = await run([
    '--input-type=module',
    '-e',
    `import { openStore } from ${JSON.stringify(INDEX)}
     for (let i = 0; i < 200; i++) {
       const store = await openStore(${JSON.stringify(url)})
       await store.getKeys('bot', 'session', ['k0'])
       await store.close()
     }`,
  ])
  t.is(reader.code, 0, reader.stderr)
  await writer.acks(20)
  const exit = await writer.stop()
  t.deepEqual(exit, { code: 0, signal: null }, writer.lines.filter((l) => !l.startsWith('ack')).join('\n'))
  t.true(writer.lastAck() >= 20)
  await assertAcknowledgedWritesPresent(t, url, 'bot', writer.lastAck())
})

test("the app survives 200 opens of its database by Python's sqlite3 module", async (t) => {
  const python = spawnSync('python3', ['-c', 'import sqlite3'], { stdio: 'ignore' })
  if (python.status !== 0) {
    if (process.env.CI === 'true') return t.fail('python3 with sqlite3 is needed in CI; .ci/run installs it')
    t.log('python3 with sqlite3 is not installed here: skipping (in CI this fails)')
    return t.pass()
  }
  const dir = tempDir()
  const db = join(dir, 'auth.db')
  const writer = startWriter(`sqlite:${db}`, 'bot')
  await writer.ready
  const reader = await run([
    '-c',
    `import sqlite3, sys
for i in range(200):
    c = sqlite3.connect(sys.argv[1])
    c.execute('SELECT count(*) FROM keys').fetchone()
    c.close()`,
    db,
  ], 'python3')
  t.is(reader.code, 0, reader.stderr)
  await writer.acks(20)
  const exit = await writer.stop()
  t.deepEqual(exit, { code: 0, signal: null }, writer.lines.filter((l) => !l.startsWith('ack')).join('\n'))
  await assertAcknowledgedWritesPresent(t, `sqlite:${db}`, 'bot', writer.lastAck())
})

test('the CLI backs up the live database while the app writes, and the app survives it', async (t) => {
  const dir = tempDir()
  const db = join(dir, 'auth.db')
  const writer = startWriter(`sqlite:${db}`, 'bot')
  await writer.ready
  for (let i = 0; i < 5; i++) {
    await writer.acks(5)
    const before = writer.lastAck()
    const copy = join(dir, `copy-${i}.db`)
    const backup = await run([CLI, 'backup', copy, '--store', db])
    t.is(backup.code, 0, backup.stderr)
    const store = await openStore(`sqlite:${copy}`)
    t.deepEqual(await store.check(), [], 'the copy is sound')
    const values = await store.getKeys('bot', 'session', [`k${before}`])
    t.is(values[`k${before}`]?.n, before, 'the copy holds what was acknowledged before it began')
    await store.close()
  }
  const exit = await writer.stop()
  t.deepEqual(exit, { code: 0, signal: null }, writer.lines.filter((l) => !l.startsWith('ack')).join('\n'))
  await assertAcknowledgedWritesPresent(t, `sqlite:${db}`, 'bot', writer.lastAck())
})

test('a store opened through a symlink sees a write made through the real path', async (t) => {
  const dir = tempDir()
  const real = join(dir, 'real.db')
  const link = join(dir, 'link.db')
  const viaReal = await openStore(`sqlite:${real}`)
  symlinkSync(real, link)
  // A stray -shm beside the link (left by an earlier file of that name, say) must not matter:
  // only SQLite decides which files belong to the database.
  const other = await openStore(`sqlite:${join(dir, 'other.db')}`)
  await other.setKeys('s', { t: { x: 1 } })
  copyFileSync(join(dir, 'other.db-shm'), `${link}-shm`)
  const viaLink = await openStore(`sqlite:${link}`)

  await viaLink.setKeys('s', { session: { a: 'one' } })
  t.deepEqual(await viaLink.getKeys('s', 'session', ['a']), { a: 'one' })
  await viaReal.setKeys('s', { session: { a: 'two' } })
  t.deepEqual(await viaLink.getKeys('s', 'session', ['a']), { a: 'two' }, 'the write through the real path is seen')
  await viaReal.setKeys('s', { session: { a: null } })
  t.deepEqual(await viaLink.getKeys('s', 'session', ['a']), { a: null }, 'and so is a delete')
  t.true(existsSync(`${real}-wal`), "SQLite's files live beside the real file")
  await Promise.all([viaLink.close(), viaReal.close(), other.close()])
})

test('a read-only command closing while another process reads never stalls the app\'s writes', async (t) => {
  const python = spawnSync('python3', ['-c', 'import sqlite3'], { stdio: 'ignore' })
  if (python.status !== 0) {
    if (process.env.CI === 'true') return t.fail('python3 with sqlite3 is needed in CI; .ci/run installs it')
    t.log('python3 with sqlite3 is not installed here: skipping (in CI this fails)')
    return t.pass()
  }
  const dir = tempDir()
  const db = join(dir, 'auth.db')
  const writer = startWriter(`sqlite:${db}`, 'bot')
  await writer.ready
  await writer.acks(5)
  // A reader (a monitoring script, say) holds a read transaction all along.
  const reader = spawn('python3', ['-c', `import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute('BEGIN')
c.execute('SELECT count(*) FROM keys').fetchone()
print('reading', flush=True)
sys.stdin.read()
c.execute('COMMIT')`, db], { stdio: ['pipe', 'pipe', 'inherit'] })
  await new Promise((resolve) => createInterface({ input: reader.stdout }).once('line', resolve))
  // Each CLI run closes its store; a close that waited for the reader while holding the write
  // lock stalled the app's writes past their 5 s busy timeout ("database is locked").
  for (let i = 0; i < 3; i++) {
    const cli = await run([CLI, 'sessions', '--store', db])
    t.is(cli.code, 0, cli.stderr)
    await writer.acks(5)
  }
  reader.stdin.end()
  await new Promise((resolve) => reader.on('exit', resolve))
  const exit = await writer.stop()
  t.deepEqual(writer.lines.filter((l) => l.startsWith('error')), [], 'no write failed')
  t.deepEqual(exit, { code: 0, signal: null })
})
