// The tools and session ownership (docs/cli.md "Sessions in use", docs/migrating.md): import,
// export, migrate and delete-session, from the CLI and from code, refuse a session another
// owner holds a live lease on, naming the owner and writing nothing, unless told to take it
// over (the owner's next write is then fenced); stats, sessions and backup only read and show
// who owns what. Owners are real other processes (fixtures/session-owner.mjs, driven over its
// stdin) for the CLI, and a useRustAuthState of this process for the library (leases are per
// process: the CLI is another one). Nothing waits a fixed time: no lease is left to lapse.
import test from 'ava'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

import { ErrorCodes, exportFolder, importFolder, migrate, openStore, useRustAuthState } from '../index.mjs'
import { cli } from './helpers/cli.mjs'
import { CREDS, folderWith } from './helpers/folder-with.mjs'
import { redisAvailable, requireRedis, startRedis, stopAll } from './helpers/redis-server.mjs'
import { tempDb, tempDir } from './helpers/temp.mjs'

test.after.always(stopAll)

const OWNER = fileURLToPath(new URL('./fixtures/session-owner.mjs', import.meta.url))

/** The stores other processes share, where sessions are owned. */
const SHARED = [
  { name: 'sqlite-file', url: async () => tempDb().url, sqlite: true },
  { name: 'redis', url: async () => (await startRedis({ unixSocket: true })).url, redis: true },
]

/**
 * A session owner process (as in ownership.test.mjs): `first` resolves to its first line
 * (ready or refused), `send(command)` to the reply to that command.
 */
function startOwner(url, session, options = {}) {
  const child = spawn(process.execPath, [OWNER, url, session, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const replies = []
  const waiting = []
  createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line)
    if (message.lost) return // the tests look at what the owner's writes answer
    const waiter = waiting.shift()
    if (waiter) waiter(message)
    else replies.push(message)
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const next = () => (replies.length ? Promise.resolve(replies.shift()) : new Promise((resolve) => waiting.push(resolve)))
  return {
    pid: child.pid,
    first: next(),
    send(command) {
      child.stdin.write(`${JSON.stringify(command)}\n`)
      return next()
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      return exited
    },
  }
}

/** An owner of `session` in the store at `url`, ready; stopped when the test ends. */
async function ownedBy(t, url, session) {
  const owner = startOwner(url, session)
  t.teardown(() => owner.stop())
  const first = await owner.first
  t.true(first.ready, JSON.stringify(first))
  return owner
}

/** Writes a finished session (creds and keys) with a store of its own, before anyone owns it. */
async function writeSession(url, session, keys = { 'pre-key': { 1: { public: 'one' }, 2: { public: 'two' } } }, creds = CREDS) {
  const store = await openStore(url)
  try {
    await store.setKeys(session, keys)
    await store.setCreds(session, creds)
  } finally {
    await store.close()
  }
}

/** What a session holds, to compare before and after a refused command. */
async function contents(url, session) {
  const store = await openStore(url)
  try {
    return { creds: await store.getCreds(session), keys: await store.listKeys(session) }
  } finally {
    await store.close()
  }
}

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The CLI's refusal, naming the owner (its host, pid and lease expiry) and --takeover. */
function refusal(session, pid, where = '') {
  return new RegExp(
    `^error: session "${escape(session)}"${escape(where)} is owned by \\S+ \\(pid ${pid}\\) until \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z: ` +
      'stop that owner first, or run again with --takeover .*\\(ERR_SESSION_LOCKED\\)$',
    'm',
  )
}

/** The owner's next write is refused: it was fenced. */
async function assertFenced(t, owner) {
  const set = await owner.send({ op: 'set', data: { session: { after: { by: 'the old owner' } } } })
  t.is(set.code, ErrorCodes.SESSION_FENCED, JSON.stringify(set))
}

for (const backend of SHARED) {
  const title = (what) => `${backend.name}: ${what}`
  const it = backend.redis && !redisAvailable() && process.env.CI !== 'true' ? test.skip : test.serial
  /** A new store's URL, or null when this Redis row cannot run here (requireRedis failed it in CI). */
  const setup = async (t) => {
    if (backend.redis && !requireRedis(t)) return null
    return backend.url()
  }

  it(title('CLI import refuses an owned session, naming the owner and writing nothing; --takeover imports and fences the owner'), async (t) => {
    const url = await setup(t)
    if (url === null) return
    const owner = await ownedBy(t, url, 'bot')
    t.true((await owner.send({ op: 'set', data: { session: { mine: { by: 'owner' } } } })).ok)
    const before = await contents(url, 'bot')
    const folder = folderWith({ 'pre-key-1.json': { public: 'one' } })

    const refused = await cli(['import', folder, '--session', 'bot', '--to', url, '--quiet'])
    t.is(refused.code, 1, refused.stderr)
    t.regex(refused.stderr, refusal('bot', owner.pid))
    t.deepEqual(await contents(url, 'bot'), before, 'nothing written')
    const json = await cli(['import', folder, '--session', 'bot', '--to', url, '--quiet', '--json'])
    t.is(json.code, 1)
    const { error } = JSON.parse(json.stdout)
    t.is(error.code, ErrorCodes.SESSION_LOCKED)
    t.is(error.owner.pid, owner.pid)
    t.true(Date.parse(error.owner.expiresAt) > Date.parse(error.owner.acquiredAt))

    const taken = await cli(['import', folder, '--session', 'bot', '--to', url, '--quiet', '--takeover'])
    t.is(taken.code, 0, taken.stderr)
    t.regex(taken.stdout, /as session bot: 1 keys \(1 written, 0 already there, 1 removed\), verified/)
    await assertFenced(t, owner)
    const after = await contents(url, 'bot')
    t.deepEqual(after.creds, CREDS)
    t.deepEqual(after.keys.map((k) => `${k.type}/${k.id}`), ['pre-key/1'], 'the fenced owner wrote nothing more')
  })

  it(title('CLI export refuses an owned session and creates no folder; --takeover exports it and fences the owner'), async (t) => {
    const url = await setup(t)
    if (url === null) return
    await writeSession(url, 'bot')
    const owner = await ownedBy(t, url, 'bot')
    const out = join(tempDir(), 'out')

    const refused = await cli(['export', out, '--session', 'bot', '--from', url, '--quiet'])
    t.is(refused.code, 1, refused.stderr)
    t.regex(refused.stderr, refusal('bot', owner.pid))
    t.false(existsSync(out))

    const taken = await cli(['export', out, '--session', 'bot', '--from', url, '--quiet', '--takeover'])
    t.is(taken.code, 0, taken.stderr)
    t.deepEqual(readdirSync(out).sort(), ['creds.json', 'pre-key-1.json', 'pre-key-2.json'])
    await assertFenced(t, owner)
  })

  it(title('CLI migrate refuses a session owned in its source or its target, copies the others, and takes them with --takeover'), async (t) => {
    const url = await setup(t)
    if (url === null) return
    // Owned in the source: a migration of every session copies the free one and lists the owned one.
    await writeSession(url, 'bot')
    await writeSession(url, 'free')
    const sourceOwner = await ownedBy(t, url, 'bot')
    const target = tempDb().url
    const all = await cli(['migrate', '--from', url, '--to', target, '--quiet'])
    t.is(all.code, 1, all.stderr)
    t.regex(all.stderr, /^migrated free: 2 keys/m)
    t.regex(
      all.stderr,
      new RegExp(`^failed bot: session "bot" of the source store \\(--from\\) is owned by \\S+ \\(pid ${sourceOwner.pid}\\) until \\S+Z: .*--takeover.* \\(ERR_SESSION_LOCKED\\)$`, 'm'),
    )
    t.regex(all.stderr, /^error: 1 of 2 sessions could not be migrated: "bot": session "bot" of the source store \(--from\) is owned by /m)
    t.deepEqual(await contents(target, 'bot'), { creds: null, keys: [] }, 'nothing of the owned session written')

    const one = await cli(['migrate', '--from', url, '--to', target, '--session', 'bot', '--quiet'])
    t.is(one.code, 1)
    t.regex(one.stderr, refusal('bot', sourceOwner.pid, ' of the source store (--from)'))

    const taken = await cli(['migrate', '--from', url, '--to', target, '--quiet', '--takeover', '--json'])
    t.is(taken.code, 0, taken.stderr)
    t.deepEqual(JSON.parse(taken.stdout).sessions.map((s) => s.session), ['bot', 'free'])
    await assertFenced(t, sourceOwner)

    // Owned in the target: nothing is written there.
    const source = tempDb().url
    await writeSession(source, 'bot2', { session: { a: { n: 1 } } })
    const targetOwner = await ownedBy(t, url, 'bot2')
    const before = await contents(url, 'bot2')
    const refused = await cli(['migrate', '--from', source, '--to', url, '--session', 'bot2', '--quiet'])
    t.is(refused.code, 1, refused.stderr)
    t.regex(refused.stderr, refusal('bot2', targetOwner.pid, ' of the target store (--to)'))
    t.deepEqual(await contents(url, 'bot2'), before)
    const into = await cli(['migrate', '--from', source, '--to', url, '--session', 'bot2', '--quiet', '--takeover'])
    t.is(into.code, 0, into.stderr)
    await assertFenced(t, targetOwner)
    t.deepEqual((await contents(url, 'bot2')).creds, CREDS)
  })

  it(title('CLI delete-session refuses an owned session; --takeover deletes it and fences the owner'), async (t) => {
    const url = await setup(t)
    if (url === null) return
    await writeSession(url, 'bot')
    const owner = await ownedBy(t, url, 'bot')
    const refused = await cli(['delete-session', 'bot', '--yes', '--store', url])
    t.is(refused.code, 1, refused.stderr)
    t.regex(refused.stderr, refusal('bot', owner.pid))
    t.deepEqual((await contents(url, 'bot')).creds, CREDS, 'not deleted')

    const deleted = await cli(['delete-session', 'bot', '--yes', '--store', url, '--takeover'])
    t.is(deleted.code, 0, deleted.stderr)
    await assertFenced(t, owner)
    t.deepEqual(await contents(url, 'bot'), { creds: null, keys: [] })
  })

  it(title('stats and sessions --json show who owns what, and read without taking a lease'), async (t) => {
    const url = await setup(t)
    if (url === null) return
    await writeSession(url, 'bot')
    await writeSession(url, 'free')
    const owner = await ownedBy(t, url, 'bot')

    const sessions = JSON.parse((await cli(['sessions', '--store', url, '--json'])).stdout)
    t.deepEqual(
      sessions.map((s) => [s.session, s.owner?.pid ?? null]),
      [
        ['bot', owner.pid],
        ['free', null],
      ],
    )
    const { host, expiresAt, acquiredAt, live, epoch } = sessions[0].owner
    t.is(typeof host, 'string')
    t.true(live)
    t.is(epoch, 1)
    t.true(Date.parse(expiresAt) > Date.parse(acquiredAt))
    const plain = await cli(['sessions', '--store', url])
    t.is(plain.code, 0, plain.stderr)
    t.is(plain.stdout, 'bot\nfree\n', 'the plain list stays one name a line')

    const stats = JSON.parse((await cli(['stats', 'bot', '--store', url, '--json'])).stdout)
    t.is(stats.owner.pid, owner.pid)
    t.is(stats.owner.expiresAt, expiresAt)
    t.is(JSON.parse((await cli(['stats', 'free', '--store', url, '--json'])).stdout).owner, null)
    const text = await cli(['stats', 'bot', '--store', url])
    t.regex(text.stdout, new RegExp(`^owner {7}${escape(host)} \\(pid ${owner.pid}\\) until ${escape(expiresAt)}$`, 'm'))
    t.regex((await cli(['stats', 'free', '--store', url])).stdout, /^owner {7}none$/m)
    const table = await cli(['stats', '--store', url])
    t.regex(table.stdout, /^SESSION +KEYS +BYTES +LAST WRITE +OWNER\n/)
    t.regex(table.stdout, new RegExp(`^bot .* ${escape(host)} \\(pid ${owner.pid}\\) until ${escape(expiresAt)}$`, 'm'))
    t.regex(table.stdout, /^free .* -$/m)

    // Reading took no lease: the owner still writes, with the lease it had.
    t.true((await owner.send({ op: 'set', data: { session: { still: { mine: true } } } })).ok)
    const store = await openStore(url)
    t.teardown(() => store.close())
    t.is((await store.lease('bot')).epoch, 1)
    t.is(await store.lease('free'), null)
  })

  if (backend.sqlite) {
    it(title('CLI backup works while a session is owned, and takes no lease'), async (t) => {
      const url = await setup(t)
      if (url === null) return
    if (url === null) return
      await writeSession(url, 'bot')
      const owner = await ownedBy(t, url, 'bot')
      const file = join(tempDir(), 'backup.db')
      const backup = await cli(['backup', file, '--store', url])
      t.is(backup.code, 0, backup.stderr)
      t.true((await owner.send({ op: 'set', data: { session: { after: { n: 1 } } } })).ok, 'the owner keeps its session')
      const copy = await openStore(`sqlite:${file}`)
      t.teardown(() => copy.close())
      t.deepEqual(await copy.sessions(), ['bot'])
      t.deepEqual(await copy.getCreds('bot'), CREDS)
    })
  }

  it(title('importFolder, exportFolder, migrate and deleteSession refuse a session owned in this process unless takeover: true'), async (t) => {
    const url = await setup(t)
    if (url === null) return
    await writeSession(url, 'bot')
    await writeSession(url, 'free')
    const before = await contents(url, 'bot')
    const other = tempDb().url
    const folder = folderWith({ 'pre-key-7.json': { public: 'seven' } })
    const out = join(tempDir(), 'out')

    const owner = await useRustAuthState('bot', { store: url })
    t.teardown(() => owner.close())
    const lockedBy = (err, storeOption) => {
      t.is(err.owner.pid, process.pid)
      t.is(err.session, 'bot')
      t.is(err.storeOption, storeOption)
      t.regex(err.message, new RegExp(`^session "bot".* is owned by \\S+ \\(pid ${process.pid}\\) until \\S+Z; .*takeover: true`))
    }
    lockedBy(await t.throwsAsync(importFolder(folder, { session: 'bot', store: url }), { code: ErrorCodes.SESSION_LOCKED }), undefined)
    lockedBy(await t.throwsAsync(exportFolder(out, { session: 'bot', store: url }), { code: ErrorCodes.SESSION_LOCKED }), undefined)
    t.false(existsSync(out))
    lockedBy(await t.throwsAsync(migrate({ from: url, to: other, session: 'bot' }), { code: ErrorCodes.SESSION_LOCKED }), 'from')
    const elsewhere = tempDb().url
    await writeSession(elsewhere, 'bot')
    lockedBy(await t.throwsAsync(migrate({ from: elsewhere, to: url, session: 'bot' }), { code: ErrorCodes.SESSION_LOCKED }), 'to')
    const store = await openStore(url)
    t.teardown(() => store.close())
    const err = await t.throwsAsync(store.deleteSession('bot'), { code: ErrorCodes.SESSION_LOCKED })
    t.is(err.owner.pid, process.pid)
    t.deepEqual(await contents(url, 'bot'), before, 'nothing written')

    // Every session: the owned one is a failure with its owner, the other is copied.
    const all = await t.throwsAsync(migrate({ from: url, to: other }), { code: ErrorCodes.SESSION_LOCKED })
    t.deepEqual(all.result.sessions.map((s) => s.session), ['free'])
    t.is(all.failures.length, 1)
    t.like(all.failures[0], { session: 'bot', code: ErrorCodes.SESSION_LOCKED, storeOption: 'from', owner: { pid: process.pid } })
    t.deepEqual(await contents(other, 'bot'), { creds: null, keys: [] })

    await t.throwsAsync(importFolder(folder, { session: 'bot', store: url, takeover: 'yes' }), { code: ErrorCodes.INVALID_ARG })
    const result = await migrate({ from: url, to: other, takeover: true })
    t.deepEqual(result.sessions.map((s) => s.session), ['bot', 'free'])
    await t.throwsAsync(owner.state.keys.set({ session: { x: { n: 1 } } }), { code: ErrorCodes.SESSION_FENCED })

    // The next owner, taken over in turn by each tool.
    const next = await useRustAuthState('bot', { store: url })
    t.teardown(() => next.close())
    t.is((await exportFolder(out, { session: 'bot', store: url, takeover: true })).keys, 2)
    await t.throwsAsync(next.state.keys.set({ session: { x: { n: 2 } } }), { code: ErrorCodes.SESSION_FENCED })
    const third = await useRustAuthState('bot', { store: url })
    t.teardown(() => third.close())
    const imported = await importFolder(folder, { session: 'bot', store: url, overwrite: true, takeover: true })
    t.is(imported.keys, 1)
    await t.throwsAsync(third.saveCreds(), { code: ErrorCodes.SESSION_FENCED })
    const fourth = await useRustAuthState('bot', { store: url })
    t.teardown(() => fourth.close())
    await store.deleteSession('bot', { takeover: true })
    await t.throwsAsync(fourth.state.keys.set({ session: { x: { n: 3 } } }), { code: ErrorCodes.SESSION_FENCED })
    t.deepEqual(await contents(url, 'bot'), { creds: null, keys: [] })

    // A session the source does not hold is refused before any lease is taken: none is left behind.
    await t.throwsAsync(exportFolder(join(tempDir(), 'none'), { session: 'nobody', store: url }), { code: ErrorCodes.INVALID_ARG })
    await t.throwsAsync(migrate({ from: url, to: other, session: 'nobody' }), { code: ErrorCodes.INVALID_ARG, message: /no creds in the source/ })
    t.is(await store.lease('nobody'), null)
    const target = await openStore(other)
    t.teardown(() => target.close())
    t.is(await target.lease('nobody'), null)
  })
}
