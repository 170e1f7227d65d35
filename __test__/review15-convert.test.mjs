// review15 (hostile review of the in-place encrypt / decrypt, docs/encryption.md "Converting a
// whole store"): every claim attacked. A test that shows a defect fails until it is fixed; the
// others guard the claims.
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import test from 'ava'

import { decryptStore, encryptStore, ErrorCodes, openStore, rekey, useRustAuthState } from '../index.mjs'
import { cli } from './helpers/cli.mjs'
import { redisAvailable, redisCommand, startRedis, stopAll } from './helpers/redis-server.mjs'
import { mysqlAvailable, mysqlUrl, postgresAvailable, postgresUrl } from './helpers/sql-servers.mjs'
import { tempDb, tempDir } from './helpers/temp.mjs'
import { until } from './helpers/until.mjs'

test.after.always(stopAll)

const CHILD = fileURLToPath(new URL('./fixtures/review15c-convert.mjs', import.meta.url))
const REKEY_CHILD = fileURLToPath(new URL('./fixtures/rekey-child.mjs', import.meta.url))
const newKey = () => randomBytes(32).toString('hex')
const SECRET = 'rv15c-secret-value-7f3a'
const SESSIONS = ['rv15c-alpha-4915550001111', 'rv15c-beta-4915550002222', 'rv15c-gamma-4915550003333', 'rv15c-delta-4915550004444']
const KEYID = (s) => `rv15ckeyid${s}`

const children = new Set()
test.after.always(() => {
  for (const child of children) child.kill('SIGKILL')
})

/** Sessions with creds and keys (the first with `many` pre-keys, more than a batch). */
async function fill(store, sessions = SESSIONS, many = 600) {
  const expected = new Map()
  for (const [s, session] of sessions.entries()) {
    const creds = { me: { id: `49155500${s}:1@s.whatsapp.net` }, note: `${SECRET} creds ${s}`, key: Buffer.from(`${SECRET} creds-key ${s}`) }
    await store.setCreds(session, creds)
    const batch = { 'pre-key': {}, session: {}, 'sender-key': {}, 'app-state-sync-key': {} }
    const n = s === 0 ? many : 7
    for (let i = 0; i < n; i++) batch['pre-key'][String(i)] = { public: Buffer.from(`${SECRET} pre-key ${s}.${i}`) }
    batch.session[`${KEYID(s)}.0`] = Buffer.from(`${SECRET} session of ${s}`)
    batch['sender-key'][`120363041234567890@g.us::${KEYID(s)}::0`] = Buffer.from(`${SECRET} sender key ${s}`)
    batch['app-state-sync-key'][`AAAA${s}`] = { keyData: Buffer.from(`${SECRET} app state ${s}`), fingerprint: { rawId: s } }
    await store.setKeys(session, batch)
    expected.set(session, { creds, batch })
  }
  return expected
}

/** Every value of `expected` reads back from the store at `url` (opened with `encryption` when given). */
async function readsAll(t, url, storeOptions, expected, what = '') {
  const store = await openStore(url, { ...storeOptions, create: false })
  try {
    t.deepEqual(await store.sessions(), [...expected.keys()].sort(), `${what} sessions`)
    for (const [session, { creds, batch }] of expected) {
      t.deepEqual(await store.getCreds(session), creds, `${what} ${session} creds`)
      for (const [type, values] of Object.entries(batch)) {
        t.deepEqual(await store.getKeys(session, type, Object.keys(values)), values, `${what} ${session} ${type}`)
      }
      const listed = await store.listKeys(session)
      t.is(listed.length, Object.values(batch).reduce((n, v) => n + Object.keys(v).length, 0), `${what} ${session} key count`)
    }
  } finally {
    await store.close()
  }
}

async function ownEachOnce(url, storeOptions, sessions) {
  for (const session of sessions) {
    const store = await openStore(url, storeOptions)
    const auth = await useRustAuthState(session, { store, lease: true })
    await auth.close()
    await store.close()
  }
}

async function openCode(url, options) {
  try {
    const store = await openStore(url, { create: false, ...options })
    await store.close()
    return 'opened'
  } catch (err) {
    return err.code
  }
}

async function codeOf(promise) {
  try {
    await promise
    return 'ok'
  } catch (err) {
    return err.code
  }
}

/** A new, empty store of `kind`, or null where its server is missing. */
async function storeOf(t, kind) {
  if (kind === 'sqlite') {
    const { url, path } = tempDb()
    return { kind, url, path, storeOptions: {} }
  }
  if (kind === 'redis') {
    if (!redisAvailable()) return skip(t, 'Redis')
    const server = await startRedis({ unixSocket: true })
    return { kind, url: server.url, storeOptions: { keyPrefix: `rv15c-${randomBytes(6).toString('hex')}` }, server }
  }
  if (kind === 'postgres') {
    if (!postgresAvailable()) return skip(t, 'PostgreSQL')
    const url = postgresUrl()
    return { kind, url, schema: new URL(url).searchParams.get('schema'), storeOptions: {} }
  }
  if (!mysqlAvailable()) return skip(t, 'MySQL')
  const url = mysqlUrl()
  return { kind, url, prefix: new URL(url).searchParams.get('tablePrefix'), storeOptions: {} }
}

function skip(t, server) {
  t.log(`no ${server} server here: skipping`)
  t.pass()
  return null
}

/** Every byte the raw store holds (files, every Redis key's DUMP, every row of every table). */
async function rawBytes(target) {
  if (target.kind === 'sqlite') {
    const parts = [target.path, `${target.path}-wal`, `${target.path}-shm`, `${target.path}-journal`].filter(existsSync).map((f) => readFileSync(f))
    const leases = `${target.path}.leases`
    if (existsSync(leases)) {
      for (const f of readdirSync(leases)) {
        parts.push(Buffer.from(f))
        try {
          parts.push(readFileSync(join(leases, f)))
        } catch {}
      }
    }
    return Buffer.concat(parts)
  }
  if (target.kind === 'redis') {
    const parts = []
    let cursor = '0'
    do {
      const [next, keys] = await redisCommand(target.server, 'SCAN', cursor, 'COUNT', '1000')
      cursor = String(next)
      for (const k of keys) {
        parts.push(Buffer.from(k))
        const dump = await redisCommand(target.server, 'DUMP', k)
        if (dump) parts.push(Buffer.from(dump))
      }
    } while (cursor !== '0')
    return Buffer.concat(parts)
  }
  if (target.kind === 'postgres') {
    const psql = (sql) => spawnSync('psql', ['-X', '-q', '-A', '-t', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'test', '-c', sql], { encoding: 'utf8', maxBuffer: 1 << 28 })
    const tables = psql(`SELECT table_name FROM information_schema.tables WHERE table_schema = '${target.schema}'`).stdout.split('\n').filter(Boolean)
    const parts = []
    for (const table of tables) {
      // Each row as text, and its bytea columns as their bytes (the text shows them in hex).
      const out = psql(`SELECT row_to_json(r)::text FROM "${target.schema}"."${table}" r`).stdout
      parts.push(Buffer.from(table), Buffer.from(out), ...hexRuns(out))
    }
    return Buffer.concat(parts)
  }
  const my = (sql) => spawnSync('mariadb', ['-N', '-B', '-h', '127.0.0.1', '-P', '3306', '-u', 'root', 'test', '-e', sql], { encoding: 'utf8', maxBuffer: 1 << 28 })
  const like = target.prefix.replaceAll('_', '\\\\_')
  const tables = my(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'test' AND table_name LIKE '${like}%'`).stdout.split('\n').filter(Boolean)
  const parts = []
  for (const table of tables) {
    const cols = my(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'test' AND table_name = '${table}'`).stdout.split('\n').filter(Boolean)
    const out = my(`SELECT ${cols.map((c) => `HEX(\`${c}\`)`).join(', ')} FROM \`${table}\``).stdout
    parts.push(Buffer.from(table), ...hexRuns(out))
  }
  return Buffer.concat(parts)
}

/** The bytes of every run of hex digits in `text`. */
function hexRuns(text) {
  return [...text.matchAll(/(?:\\x)?([0-9a-fA-F]{8,})/g)].map((m) => Buffer.from(m[1].length % 2 ? m[1].slice(1) : m[1], 'hex'))
}

const plaintextIn = (bytes, secrets) => secrets.filter((s) => bytes.includes(Buffer.from(s)))

function startChild(target, direction, key, freeze = '0', script = CHILD, env = {}) {
  const argv = script === CHILD ? [target.url, direction, key, String(freeze), JSON.stringify(target.storeOptions)] : [target.url, direction, key, String(freeze)]
  const child = spawn(process.execPath, [script, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  children.add(child)
  let out = ''
  child.stdout.on('data', (c) => (out += c))
  child.stderr.on('data', (c) => (out += c))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    children.delete(child)
    resolve({ code, signal, out })
  }))
  return { child, exited, out: () => out }
}

async function killAfter(run, ms) {
  await new Promise((resolve) => setTimeout(resolve, ms))
  run.child.kill('SIGKILL')
  return run.exited
}

/** Runs the conversion again until it is done (a killed run's leases on a server stay live a while). */
async function finish(t, target, direction, key) {
  let last
  await until(async () => {
    last = await codeOf((direction === 'encrypt' ? encryptStore : decryptStore)({ store: target.url, key: { key }, storeOptions: target.storeOptions }))
    if (last === ErrorCodes.STORE_KEY && direction === 'decrypt' && (await openCode(target.url, target.storeOptions)) === 'opened') return true
    if (last !== 'ok' && last !== ErrorCodes.SESSION_LOCKED) throw new Error(`the rerun of ${direction} failed: ${last}`)
    return last === 'ok'
  }, `${direction} to finish`, 40_000)
}

const ALL = ['sqlite', 'redis', 'postgres', 'mysql']

// --- claim: nothing lost, and no plaintext left in the raw store, on every backend ---------------

for (const kind of ALL) {
  test.serial(`encrypt leaves no session id, key id or value in the raw store, decrypt brings every value back (${kind})`, async (t) => {
    const target = await storeOf(t, kind)
    if (target === null) return
    const { url, storeOptions } = target
    const first = await openStore(url, storeOptions)
    const expected = await fill(first)
    await first.close()
    // Leases released by owners, and a lease-only session (data deleted).
    await ownEachOnce(url, storeOptions, [...SESSIONS, 'rv15c-leaseonly-4915550009999'])
    const secrets = [...SESSIONS, 'rv15c-leaseonly-4915550009999', SECRET, KEYID(0), KEYID(3), '4915550001111']
    t.deepEqual(plaintextIn(await rawBytes(target), secrets), secrets, 'the scan sees the plain store')
    const key = newKey()
    t.deepEqual(await encryptStore({ store: url, key: { key }, storeOptions }), { sessions: SESSIONS.length })
    t.deepEqual(plaintextIn(await rawBytes(target), secrets), [], 'no plaintext left in the raw store')
    await readsAll(t, url, { ...storeOptions, encryption: { key } }, expected, 'encrypted')
    t.deepEqual(await decryptStore({ store: url, key: { key }, storeOptions }), { sessions: SESSIONS.length })
    await readsAll(t, url, storeOptions, expected, 'decrypted')
  })
}

// --- claim: SIGKILL anywhere leaves a store nobody opens, and a rerun finishes ------------------

for (const kind of ALL) {
  test.serial(`SIGKILL at random points of encrypt, decrypt and their reruns: closed to applications, then every value intact (${kind})`, async (t) => {
    const target = await storeOf(t, kind)
    if (target === null) return
    const { url, storeOptions } = target
    const first = await openStore(url, storeOptions)
    const expected = await fill(first, SESSIONS, 3000)
    await first.close()
    const key = newKey()
    const rounds = kind === 'sqlite' ? 4 : 2
    for (let round = 0; round < rounds; round++) {
      for (const direction of ['encrypt', 'decrypt']) {
        // First run killed after a random delay, then a rerun killed too, then a rerun to the end.
        let finished = false
        for (let kill = 0; kill < 2 && !finished; kill++) {
          const run = startChild(target, direction, key)
          const { signal, out } = await killAfter(run, 100 + Math.floor(Math.random() * 700))
          if (signal !== 'SIGKILL') {
            // A decrypt run again after the killed one had done its last step finds a plain
            // store: "not encrypted" (ERR_STORE_KEY), with every value there, in the clear.
            const doneBefore = direction === 'decrypt' && /error ERR_STORE_KEY/.test(out) && (await openCode(url, storeOptions)) === 'opened'
            if (!doneBefore) t.regex(out, /finished|error ERR_SESSION_LOCKED/, `${direction} round ${round}: ${out}`)
            finished = doneBefore || /finished/.test(out)
            continue
          }
          const without = await openCode(url, storeOptions)
          const withKey = await openCode(url, { ...storeOptions, encryption: { key } })
          // Killed before it wrote its marker: the store opens as it was; else neither way.
          const before = direction === 'encrypt' ? [ErrorCodes.STORE_UNAVAILABLE, 'opened'] : [ErrorCodes.STORE_UNAVAILABLE, ErrorCodes.STORE_KEY]
          t.true(
            (without === ErrorCodes.STORE_UNAVAILABLE && withKey === ErrorCodes.STORE_UNAVAILABLE) ||
              (direction === 'encrypt' && without === 'opened' && withKey === ErrorCodes.STORE_KEY) ||
              (direction === 'decrypt' && withKey === 'opened' && without === ErrorCodes.STORE_KEY) ||
              // killed after its last step
              (direction === 'encrypt' && withKey === 'opened') ||
              (direction === 'decrypt' && without === 'opened'),
            `${direction} killed (round ${round}): without key ${without}, with key ${withKey} (${before})`,
          )
        }
        if (!finished) await finish(t, target, direction, key)
        await readsAll(t, url, direction === 'encrypt' ? { ...storeOptions, encryption: { key } } : storeOptions, expected, `${direction} round ${round}`)
      }
    }
  })
}

// --- defect: a session id that looks like a hash breaks a resumed decrypt -------------------------

test.serial('a decrypt killed after it moved a session whose id is 43 base64url characters resumes', async (t) => {
  const target = await storeOf(t, 'sqlite')
  const { url } = target
  const hashLike = 'Q'.repeat(21) + '-_' + 'x'.repeat(20) // 43 base64url characters, a legal session id
  const key = newKey()
  const first = await openStore(url, { encryption: { key } })
  const expected = await fill(first, [hashLike, 'rv15c-zeta-4915550005555'], 10)
  await first.close()
  const run = startChild(target, 'decrypt', key, hashLike)
  await until(() => run.out().includes(`done `) && run.out().includes(hashLike), 'the hash-like session decrypted')
  run.child.kill('SIGKILL')
  await run.exited
  t.is(await openCode(url, {}), ErrorCodes.STORE_UNAVAILABLE)
  const rerun = await codeOf(decryptStore({ store: url, key: { key } }))
  t.is(rerun, 'ok', 'the rerun finishes the decryption (today: ERR_STORE_CORRUPT, "has no name record")')
  if (rerun === 'ok') await readsAll(t, url, {}, expected, 'decrypted')
})

// --- defect: a session named as another session's hashed name -----------------------------------

test.serial("decrypt of a store where one session's id is another session's hashed name is refused, and loses nothing", async (t) => {
  const key = newKey()
  let target, expected
  // Session B, then session A named as B's hashed name; retried until A's hashed name sorts first
  // (the order decrypt takes them in).
  for (let attempt = 0; attempt < 20; attempt++) {
    target = await storeOf(t, 'sqlite')
    const store = await openStore(target.url, { encryption: { key } })
    const b = `rv15c-b-${attempt}`
    const eb = await fill(store, [b], 10)
    const raw = () => spawnSync('sqlite3', [target.path, 'SELECT name FROM sessions ORDER BY name'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)
    const [hb] = raw()
    const ea = await fill(store, [hb], 10)
    await store.close()
    const ha = raw().find((n) => n !== hb)
    if (ha < hb) {
      expected = new Map([...eb, ...ea])
      break
    }
  }
  t.truthy(expected, 'found a pair in the right order')
  // The two sessions cannot share one plain store: refused before anything is written, the
  // store still opens with its key and holds both.
  const code = await codeOf(decryptStore({ store: target.url, key: { key } }))
  t.is(code, ErrorCodes.INVALID_ARG, `decrypt: ${code}`)
  t.is(await openCode(target.url, { encryption: { key } }), 'opened')
  await readsAll(t, target.url, { encryption: { key } }, expected, 'still encrypted')
})

// --- claim: live leases refuse, nothing written; opens refused during a conversion ---------------

test.serial('a live lease refuses encrypt and decrypt before anything is written; an application cannot open while one runs', async (t) => {
  const target = await storeOf(t, 'sqlite')
  const { url, path } = target
  const first = await openStore(url)
  const expected = await fill(first)
  await first.close()
  const snapshot = () => spawnSync('sqlite3', [path, 'SELECT name, hex(value) FROM store_records; SELECT name, hex(creds) FROM sessions; SELECT count(*) FROM keys'], { encoding: 'utf8' }).stdout
  const before = snapshot()
  const app = await useRustAuthState(SESSIONS[3], { store: url, lease: true })
  const key = newKey()
  const err = await t.throwsAsync(encryptStore({ store: url, key: { key } }))
  t.is(err.code, ErrorCodes.SESSION_LOCKED)
  t.is(snapshot(), before, 'encrypt wrote nothing')
  await app.close()
  await encryptStore({ store: url, key: { key } })
  const sealedApp = await useRustAuthState(SESSIONS[2], { store: url, lease: true, encryption: { key } })
  const sealedBefore = snapshot()
  const derr = await t.throwsAsync(decryptStore({ store: url, key: { key } }))
  t.is(derr.code, ErrorCodes.SESSION_LOCKED)
  t.regex(derr.message, new RegExp(SESSIONS[2]), 'names the session by its own id')
  t.false(derr.message.includes(key))
  t.is(snapshot(), sealedBefore, 'decrypt wrote nothing')
  await sealedApp.close()
  // During a conversion (frozen after its first session): every open refused, a new session too.
  const run = startChild(target, 'decrypt', key, 1)
  await until(() => run.out().includes('done 1'), 'the first session decrypted')
  t.is(await openCode(url, {}), ErrorCodes.STORE_UNAVAILABLE)
  t.is(await openCode(url, { encryption: { key } }), ErrorCodes.STORE_UNAVAILABLE)
  t.is(await codeOf(useRustAuthState('rv15c-newcomer', { store: url, lease: true })), ErrorCodes.STORE_UNAVAILABLE)
  t.is(await codeOf(useRustAuthState(SESSIONS[0], { store: url, lease: true, encryption: { key } })), ErrorCodes.STORE_UNAVAILABLE)
  run.child.kill('SIGKILL')
  await run.exited
  await decryptStore({ store: url, key: { key } })
  await readsAll(t, url, {}, expected)
})

test.serial('a session a store handle opened before encrypt writes during the conversion is encrypted too', async (t) => {
  const target = await storeOf(t, 'sqlite')
  const { url } = target
  const first = await openStore(url)
  const expected = await fill(first, SESSIONS, 3000)
  await first.close()
  const key = newKey()
  // An application's handle, open before the conversion, with no session owned yet.
  const handle = await openStore(url)
  const go = join(tempDir(), 'go')
  const run = startChild(target, 'encrypt', key, 1, CHILD, { RV15C_GO: go })
  await until(() => run.out().includes('done 1'), 'the first session encrypted')
  const code = await codeOf(useRustAuthState('rv15c-late-4915550007777', { store: handle, lease: true }).then(async (auth) => {
    await auth.saveCreds()
    await auth.close()
  }))
  writeFileSync(go, '')
  const { out } = await run.exited
  await handle.close()
  t.is(code, 'ok', 'the old handle still writes while the conversion runs (applications must be stopped)')
  t.regex(out, /finished/, 'the conversion ends well')
  const sessions = await openStore(url, { create: false, encryption: { key } }).then(async (s) => {
    try {
      return await s.sessions()
    } catch (err) {
      return err.code
    } finally {
      await s.close()
    }
  })
  t.true(Array.isArray(sessions), `the encrypted store lists its sessions: ${sessions}`)
  t.true(sessions.includes('rv15c-late-4915550007777'), 'the conversion looked again before it ended, and moved the late session')
  const sealed = await openStore(url, { create: false, encryption: { key } })
  t.truthy(await sealed.getCreds('rv15c-late-4915550007777'))
  await sealed.deleteSession('rv15c-late-4915550007777')
  await sealed.close()
  await readsAll(t, url, { encryption: { key } }, expected)
})

// --- claim: two conversions at once never corrupt ------------------------------------------------

for (const [a, b, same] of [['encrypt', 'encrypt', true], ['encrypt', 'encrypt', false], ['encrypt', 'decrypt', true], ['decrypt', 'decrypt', true]]) {
  test.serial(`two conversions at once (${a} + ${b}, ${same ? 'same key' : 'different keys'}) never corrupt`, async (t) => {
    // The race is a matter of timing: a few tries, each a new store; the first one that loses
    // a value fails the test.
    for (let attempt = 0; attempt < 6; attempt++) {
      const target = await storeOf(t, 'sqlite')
      const { url } = target
      const k1 = newKey()
      const k2 = same ? k1 : newKey()
      const first = await openStore(url, a === 'decrypt' ? { encryption: { key: k1 } } : {})
      const expected = await fill(first, SESSIONS.slice(0, 3), 700)
      await first.close()
      const one = startChild(target, a, k1)
      const two = startChild(target, b, k2)
      const [r1, r2] = await Promise.all([one.exited, two.exited])
      const outcome = `${r1.out.trim().split('\n').at(-1)} | ${r2.out.trim().split('\n').at(-1)}`
      // Whatever state it is left in, a rerun with a key that opens it finishes it.
      const state = async () => {
        for (const k of [k1, k2]) if ((await openCode(url, { encryption: { key: k } })) === 'opened') return { encryption: { key: k } }
        return (await openCode(url, {})) === 'opened' ? {} : null
      }
      let options = await state()
      if (options === null) {
        const codes = []
        for (const k of [k1, k2]) for (const convert of [encryptStore, decryptStore]) codes.push(await codeOf(convert({ store: url, key: { key: k } })))
        t.true(codes.includes('ok'), `${outcome}: a rerun finishes: ${codes}`)
        options = (await state()) ?? {}
      }
      const before = t.passed
      const store = await openStore(url, { ...options, create: false })
      const sessions = await store.sessions()
      const creds = []
      for (const session of expected.keys()) creds.push(await store.getCreds(session))
      await store.close()
      t.deepEqual(sessions, [...expected.keys()].sort(), `attempt ${attempt} (${outcome}): every session is still there`)
      t.deepEqual(creds, [...expected.values()].map((e) => e.creds), `attempt ${attempt} (${outcome}): every creds`)
      if (sessions.length !== expected.size) return
      await readsAll(t, url, options, expected, `attempt ${attempt}`)
      void before
    }
  })
}

// --- hostile input ------------------------------------------------------------------------------

test.serial('hostile input: empty store, odd ids, a huge session, wrong keys, the wrong direction', async (t) => {
  const key = newKey()
  // Empty store (exists, no session): encrypt makes it encrypted, decrypt makes it plain.
  const empty = await storeOf(t, 'sqlite')
  await (await openStore(empty.url)).close()
  t.deepEqual(await encryptStore({ store: empty.url, key: { key } }), { sessions: 0 })
  t.is(await openCode(empty.url, { encryption: { key } }), 'opened')
  t.deepEqual(await decryptStore({ store: empty.url, key: { key } }), { sessions: 0 })
  t.is(await openCode(empty.url, {}), 'opened')

  const target = await storeOf(t, 'sqlite')
  const odd = ['ünïcödé 🔑 session', "quote' \"dq\" ;DROP TABLE sessions;--", 'sp ace\ttab\nnewline', 'x'.repeat(43), '%2F..%2F', 'rv15c-huge-4915550008888']
  const store = await openStore(target.url)
  const expected = await fill(store, odd.slice(0, 5), 10)
  // A huge session: 20,000 keys.
  const huge = { 'pre-key': {}, session: {} }
  for (let i = 0; i < 19990; i++) huge['pre-key'][`${i}`] = { public: Buffer.from(`${SECRET} huge ${i}`) }
  for (let i = 0; i < 10; i++) huge.session[`${KEYID(9)}${i}.0`] = Buffer.from(`huge session ${i}`)
  const hugeCreds = { me: { id: 'huge@s.whatsapp.net' } }
  await store.setCreds(odd[5], hugeCreds)
  await store.setKeys(odd[5], huge)
  expected.set(odd[5], { creds: hugeCreds, batch: huge })
  await store.close()
  t.is(await codeOf(decryptStore({ store: target.url, key: { key } })), ErrorCodes.STORE_KEY, 'decrypt of a plain store')
  t.deepEqual(await encryptStore({ store: target.url, key: { key } }), { sessions: 6 })
  t.is(await codeOf(encryptStore({ store: target.url, key: { key: newKey() } })), ErrorCodes.STORE_KEY, 'encrypt of an encrypted store, another key')
  t.is(await codeOf(encryptStore({ store: target.url, key: { passphrase: 'not-the-key' } })), ErrorCodes.STORE_KEY)
  t.is(await codeOf(decryptStore({ store: target.url, key: { key: newKey() } })), ErrorCodes.STORE_KEY, 'wrong key to decrypt')
  await readsAll(t, target.url, { encryption: { key } }, expected, 'encrypted')
  t.deepEqual(await decryptStore({ store: target.url, key: { key } }), { sessions: 6 })
  await readsAll(t, target.url, {}, expected, 'decrypted')
})

test.serial('plain rows copied by hand into an encrypted store are encrypted by encrypt (or refused), never left in the clear', async (t) => {
  const key = newKey()
  const plain = await storeOf(t, 'sqlite')
  const p = await openStore(plain.url)
  await fill(p, ['rv15c-handmade-4915550006666'], 5)
  await p.close()
  const target = await storeOf(t, 'sqlite')
  const s = await openStore(target.url, { encryption: { key } })
  const expected = await fill(s, [SESSIONS[0]], 5)
  await s.close()
  // The plain session's rows copied into the encrypted store's file.
  const sql = `ATTACH '${plain.path}' AS p; INSERT INTO sessions (name, creds, updated_at) SELECT name, creds, updated_at FROM p.sessions;` +
    `INSERT INTO keys SELECT (SELECT id FROM sessions WHERE name = 'rv15c-handmade-4915550006666'), type, id, value FROM p.keys;`
  t.is(spawnSync('sqlite3', [target.path, sql]).status, 0)
  const enc = await codeOf(encryptStore({ store: target.url, key: { key } }))
  t.log('encrypt:', enc)
  // encrypt moves plain sessions found in an encrypted store (a process that had it open wrote
  // them): it either refuses, or leaves nothing in the clear.
  if (enc === 'ok') {
    const sealedNow = await openStore(target.url, { create: false, encryption: { key } })
    t.true((await sealedNow.sessions()).includes('rv15c-handmade-4915550006666'))
    t.truthy(await sealedNow.getCreds('rv15c-handmade-4915550006666'))
    await sealedNow.close()
  }
  const dec = await codeOf(decryptStore({ store: target.url, key: { key } }))
  t.log('decrypt:', dec)
  // Whatever happened, the encrypted session is intact one way or the other.
  const asPlain = await openCode(target.url, {})
  if (asPlain === 'opened') {
    const r = await openStore(target.url, { create: false })
    t.deepEqual(await r.getCreds(SESSIONS[0]), expected.get(SESSIONS[0]).creds)
    await r.close()
  }
})

test.serial('a key callback: openStore calls it; one that throws, returns junk or is slow; conversion with a callback key', async (t) => {
  const target = await storeOf(t, 'sqlite')
  const key = newKey()
  const s = await openStore(target.url)
  const expected = await fill(s, [SESSIONS[0]], 5)
  await s.close()
  await encryptStore({ store: target.url, key: { key } })
  const slow = await openStore(target.url, { create: false, encryption: () => new Promise((resolve) => setTimeout(() => resolve({ key }), 300)) })
  t.deepEqual(await slow.getCreds(SESSIONS[0]), expected.get(SESSIONS[0]).creds)
  await slow.close()
  const boom = new Error('kms down')
  t.is(await t.throwsAsync(openStore(target.url, { create: false, encryption: async () => { throw boom } })), boom)
  for (const junk of [null, 'k', 42, {}, { key: 'nothex' }, { key: newKey(), passphrase: 'x' }, () => ({ key })]) {
    const code = await codeOf(openStore(target.url, { create: false, encryption: async () => junk }))
    t.true([ErrorCodes.INVALID_ARG, ErrorCodes.STORE_KEY].includes(code), `${typeof junk} ${JSON.stringify(junk)}: ${code}`)
  }
  t.is(await codeOf(openStore(target.url, { create: false, encryption: async () => ({ key: newKey() }) })), ErrorCodes.STORE_KEY)
  // encryptStore / decryptStore with a callback key (the same EncryptionSource openStore takes):
  // either it works, or it is refused naming options.key, never another option.
  const err = await codeOf(decryptStore({ store: target.url, key: async () => ({ key }) }))
  const msg = await decryptStore({ store: target.url, key: async () => ({ key }) }).then(() => 'ok', (e) => e.message)
  t.log(err, msg)
  t.true(err === 'ok' || (err === ErrorCodes.INVALID_ARG && /options\.key/.test(msg)), `a callback key: ${err} ${msg}`)
})

// --- rekey and conversion interplay --------------------------------------------------------------

test.serial('decrypt during a half-done rekey (killed), with the old and with the new key; encrypt → rekey → decrypt', async (t) => {
  for (const which of ['old', 'new']) {
    const target = await storeOf(t, 'sqlite')
    const oldKey = newKey()
    const newK = newKey()
    const s = await openStore(target.url)
    const expected = await fill(s, SESSIONS, 600)
    await s.close()
    await encryptStore({ store: target.url, key: { key: oldKey } })
    const run = startChild(target, oldKey, newK, 2, REKEY_CHILD)
    await until(() => run.out().includes('done 2'), 'the rekey half done')
    run.child.kill('SIGKILL')
    await run.exited
    const k = which === 'old' ? oldKey : newK
    const code = await codeOf(decryptStore({ store: target.url, key: { key: k } }))
    t.log(which, code)
    if (code === 'ok') await readsAll(t, target.url, {}, expected, `decrypted with the ${which} key`)
    else {
      t.is(code, ErrorCodes.STORE_KEY, `a refusal is a key refusal: ${code}`)
      await readsAll(t, target.url, { encryption: { key: oldKey } }, expected, 'still encrypted')
    }
  }
  const target = await storeOf(t, 'sqlite')
  const k1 = newKey()
  const k2 = newKey()
  const s = await openStore(target.url)
  const expected = await fill(s, SESSIONS, 600)
  await s.close()
  await encryptStore({ store: target.url, key: { key: k1 } })
  const r = await rekey({ store: target.url, from: { key: k1 }, to: { key: k2 } })
  t.true(r.finished)
  t.is(await codeOf(decryptStore({ store: target.url, key: { key: k1 } })), ErrorCodes.STORE_KEY, 'the old key no longer decrypts')
  t.deepEqual(await decryptStore({ store: target.url, key: { key: k2 } }), { sessions: SESSIONS.length })
  await readsAll(t, target.url, {}, expected, 'round trip')
})

// --- the CLI ------------------------------------------------------------------------------------

test.serial('CLI encrypt / decrypt: never shows the key or passphrase; exit codes 0, 1, 2 as docs/cli.md says', async (t) => {
  const target = await storeOf(t, 'sqlite')
  const { url } = target
  const s = await openStore(url)
  const expected = await fill(s, SESSIONS.slice(0, 2), 5)
  await s.close()
  const passphrase = `pass-${randomBytes(8).toString('hex')}`
  const env = { RV15C_PASS: passphrase }
  const shows = (run) => [run.stdout, run.stderr].some((x) => x.includes(passphrase))
  const enc = await cli(['encrypt', '--store', url, '--passphrase-env', 'RV15C_PASS'], { env })
  t.is(enc.code, 0, enc.stderr)
  t.false(shows(enc))
  await readsAll(t, url, { encryption: { passphrase } }, expected)
  const wrong = await cli(['decrypt', '--store', url, '--passphrase-env', 'RV15C_WRONG'], { env: { RV15C_WRONG: 'wrong-pass-123' } })
  t.is(wrong.code, 1)
  t.regex(wrong.stderr, /ERR_STORE_KEY/)
  t.false([wrong.stdout, wrong.stderr].some((x) => x.includes('wrong-pass-123')))
  const unset = await cli(['decrypt', '--store', url, '--passphrase-env', 'RV15C_UNSET'])
  t.is(unset.code, 2, 'an unset variable is wrong usage')
  const both = await cli(['decrypt', '--store', url, '--passphrase-env', 'RV15C_PASS', '--key-file', '/nonexistent'], { env })
  t.is(both.code, 2)
  t.false(shows(both))
  // A live lease: exit 1, ERR_SESSION_LOCKED.
  const app = await useRustAuthState(SESSIONS[0], { store: url, lease: true, encryption: { passphrase } })
  const locked = await cli(['decrypt', '--store', url, '--passphrase-env', 'RV15C_PASS'], { env })
  await app.close()
  t.is(locked.code, 1)
  t.regex(locked.stderr, /ERR_SESSION_LOCKED/)
  t.false(shows(locked))
  const dec = await cli(['decrypt', '--store', url, '--passphrase-env', 'RV15C_PASS', '--json'], { env })
  t.is(dec.code, 0, dec.stderr)
  t.false(shows(dec))
  await readsAll(t, url, {}, expected)
  // A key file: the key's text never shown, even when it is the wrong kind of file.
  const key = newKey()
  const keyFile = join(tempDir(), 'k')
  writeFileSync(keyFile, key)
  chmodSync(keyFile, 0o600)
  const badFile = join(tempDir(), 'bad')
  writeFileSync(badFile, `${key.slice(0, 40)}zz`)
  chmodSync(badFile, 0o600)
  const bad = await cli(['encrypt', '--store', url, '--key-file', badFile])
  t.true([1, 2].includes(bad.code), `a key file that is no key: ${bad.code} ${bad.stderr}`)
  t.false(bad.stderr.includes(key.slice(0, 40)))
  const missing = await cli(['encrypt', '--store', `sqlite:${join(tempDir(), 'none.db')}`, '--key-file', keyFile])
  t.is(missing.code, 1)
  t.regex(missing.stderr, /ERR_STORE_NOT_FOUND/)
  const ok = await cli(['encrypt', '--store', url, '--key-file', keyFile])
  t.is(ok.code, 0)
  t.false([ok.stdout, ok.stderr].some((x) => x.includes(key)))
})
