// encryptStore / decryptStore (docs/encryption.md, "Converting a whole store"): a whole store
// converted in place on every backend, refused while an application owns a session, closed to
// applications while it runs, resumable after a SIGKILL, and leaving no plaintext in a SQLite
// file; and the CLI's encrypt / decrypt.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import test from 'ava'

import { decryptStore, encryptStore, ErrorCodes, openStore, useRustAuthState } from '../index.mjs'
import { cli } from './helpers/cli.mjs'
import { redisAvailable, redisCommand, startRedis, stopAll } from './helpers/redis-server.mjs'
import { mysqlAvailable, mysqlUrl, postgresAvailable, postgresUrl } from './helpers/sql-servers.mjs'
import { tempDb, tempDir } from './helpers/temp.mjs'

test.after.always(stopAll)

const CHILD = fileURLToPath(new URL('./fixtures/convert-child.mjs', import.meta.url))
const newKey = () => randomBytes(32).toString('hex')

const SESSIONS = ['acme-support-4915550001111', 'acme-sales-4915550002222', 'acme-ops-4915550003333']
const SECRET = 'value-secret-bytes-1b2e4d'

/** Three sessions with creds and keys of several types, one with more keys than a batch. */
async function fill(store) {
  const expected = new Map()
  for (const [s, session] of SESSIONS.entries()) {
    const creds = { me: { id: `49155500${s}:1@s.whatsapp.net` }, note: `creds-secret-${s}`, key: Buffer.from(`creds-key-${s}`) }
    await store.setCreds(session, creds)
    const batch = { 'pre-key': {}, session: {}, 'sender-key': {}, 'app-state-sync-key': {} }
    const preKeys = s === 0 ? 300 : 5
    for (let i = 0; i < preKeys; i++) batch['pre-key'][String(i)] = { public: Buffer.from(`${SECRET} pre-key ${s}.${i}`) }
    batch.session[`4915552223${s}.0`] = Buffer.from(`${SECRET} session of ${s}`)
    batch['sender-key'][`120363041234567890@g.us::491555444${s}::0`] = Buffer.from(`${SECRET} sender key ${s}`)
    batch['app-state-sync-key'][`AAAA${s}`] = { keyData: Buffer.from(`${SECRET} app state ${s}`), fingerprint: { rawId: s } }
    await store.setKeys(session, batch)
    expected.set(session, { creds, batch })
  }
  return expected
}

/** Every value of `expected` reads back from `store`. */
async function readsAll(t, store, expected) {
  t.deepEqual(await store.sessions(), [...expected.keys()].sort())
  for (const [session, { creds, batch }] of expected) {
    t.deepEqual(await store.getCreds(session), creds, session)
    for (const [type, values] of Object.entries(batch)) t.deepEqual(await store.getKeys(session, type, Object.keys(values)), values, `${session} ${type}`)
  }
}

/** Each session opened once by an owner and closed: its lease is released, its record stays. */
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

/** A new, empty store of `kind`, or null (with the test passed) where its server is missing. */
async function storeOf(t, kind) {
  if (kind === 'sqlite') return { url: tempDb().url, storeOptions: {} }
  if (kind === 'redis') {
    if (!redisAvailable()) return skip(t, 'Redis')
    const server = await startRedis({ unixSocket: true })
    return { url: server.url, storeOptions: { keyPrefix: `convert-${randomBytes(6).toString('hex')}` }, server }
  }
  if (kind === 'postgres') return postgresAvailable() ? { url: postgresUrl(), storeOptions: {} } : skip(t, 'PostgreSQL')
  return mysqlAvailable() ? { url: mysqlUrl(), storeOptions: {} } : skip(t, 'MySQL')
}

function skip(t, server) {
  t.log(`no ${server} server here: skipping`)
  t.pass()
  return null
}

for (const kind of ['sqlite', 'redis', 'postgres', 'mysql']) {
  test(`encrypt then decrypt a store in place: every value reads back, and each way only its key opens it (${kind})`, async (t) => {
    const target = await storeOf(t, kind)
    if (target === null) return
    const { url, storeOptions } = target
    const first = await openStore(url, storeOptions)
    const expected = await fill(first)
    await first.close()
    await ownEachOnce(url, storeOptions, SESSIONS)
    const key = newKey()
    const events = []
    t.deepEqual(await encryptStore({ store: url, key: { key }, storeOptions, onProgress: (e) => events.push(e) }), { sessions: 3 })
    t.deepEqual(
      events.map((e) => [e.session, e.done, e.total]),
      [...SESSIONS].sort().map((s, i) => [s, i + 1, 3]),
    )
    t.is(await openCode(url, storeOptions), ErrorCodes.STORE_KEY, 'without the key: refused')
    const sealed = await openStore(url, { ...storeOptions, create: false, encryption: { key } })
    await readsAll(t, sealed, expected)
    t.deepEqual(await sealed.leases(), [], 'no lease record of the plain names is left')
    t.deepEqual((await sealed.listKeys(SESSIONS[0])).length, 300 + 3)
    await sealed.close()
    if (target.server) {
      // The raw Redis keys name no session.
      const keys = (await redisCommand(target.server, 'KEYS', '*')).map(String)
      t.true(keys.length > 0)
      t.deepEqual(keys.filter((k) => SESSIONS.some((s) => k.includes(s))), [])
    }
    // An owner of the encrypted store leaves a (hashed) lease record behind; decrypt forgets it too.
    await ownEachOnce(url, { ...storeOptions, encryption: { key } }, [SESSIONS[1]])
    const leased = await openStore(url, { ...storeOptions, create: false, encryption: { key } })
    t.deepEqual((await leased.leases()).map((l) => l.session), [SESSIONS[1]])
    await leased.close()
    t.deepEqual(await encryptStore({ store: url, key: { key }, storeOptions }), { sessions: 3 }, 'again with its key: nothing to do')
    t.is((await t.throwsAsync(encryptStore({ store: url, key: { key: newKey() }, storeOptions }))).code, ErrorCodes.STORE_KEY)
    t.is((await t.throwsAsync(decryptStore({ store: url, key: { key: newKey() }, storeOptions }))).code, ErrorCodes.STORE_KEY)

    t.deepEqual(await decryptStore({ store: url, key: { key }, storeOptions }), { sessions: 3 })
    t.is(await openCode(url, { ...storeOptions, encryption: { key } }), ErrorCodes.STORE_KEY, 'the store is not encrypted any more')
    const plain = await openStore(url, { ...storeOptions, create: false })
    await readsAll(t, plain, expected)
    t.deepEqual(await plain.leases(), [])
    await plain.close()
    t.is((await t.throwsAsync(decryptStore({ store: url, key: { key }, storeOptions }))).code, ErrorCodes.STORE_KEY, 'nothing to decrypt')
  })
}

test('after encrypt, the SQLite file and its WAL hold none of the session ids or values', async (t) => {
  const { url, path } = tempDb()
  const first = await openStore(url)
  await fill(first)
  await first.close()
  await ownEachOnce(url, {}, SESSIONS)
  const files = () => [path, `${path}-wal`, `${path}-shm`].filter(existsSync)
  const secrets = [...SESSIONS, SECRET, 'creds-secret-0', '4915552223']
  const found = (bytes) => secrets.filter((s) => bytes.includes(Buffer.from(s)))
  t.deepEqual(found(Buffer.concat(files().map((f) => readFileSync(f)))), secrets, 'the plain store holds them all')
  const key = newKey()
  await encryptStore({ store: url, key: { key } })
  for (const file of files()) t.deepEqual(found(readFileSync(file)), [], file)
})

test('a session an application owns refuses encrypt, which then writes nothing', async (t) => {
  const { url } = tempDb()
  const first = await openStore(url)
  const expected = await fill(first)
  await first.close()
  const app = await useRustAuthState(SESSIONS[1], { store: url, lease: true })
  const err = await t.throwsAsync(encryptStore({ store: url, key: { key: newKey() } }))
  t.is(err.code, ErrorCodes.SESSION_LOCKED)
  t.is(err.owner?.pid, process.pid, 'it names the owner')
  t.regex(err.message, new RegExp(SESSIONS[1]))
  await app.close()
  const plain = await openStore(url, { create: false })
  await readsAll(t, plain, expected)
  await plain.close()
})

/** Runs the child until it has converted one session, then kills it with SIGKILL. */
async function killMidway(t, url, direction, key) {
  const child = spawn(process.execPath, [CHILD, url, direction, key, '1'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal)))
  await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
      if (/done 1/.test(out)) resolve()
    })
    child.on('exit', () => reject(new Error(`the ${direction} ended before it was killed: ${out}`)))
  })
  child.kill('SIGKILL')
  t.is(await exited, 'SIGKILL')
}

test('an encrypt or decrypt killed by SIGKILL leaves the store closed to applications, and resumes', async (t) => {
  const { url } = tempDb()
  const first = await openStore(url)
  const expected = await fill(first)
  await first.close()
  await ownEachOnce(url, {}, SESSIONS)
  const key = newKey()

  await killMidway(t, url, 'encrypt', key)
  t.is(await openCode(url, {}), ErrorCodes.STORE_UNAVAILABLE)
  t.is(await openCode(url, { encryption: { key } }), ErrorCodes.STORE_UNAVAILABLE)
  const unfinished = await t.throwsAsync(openStore(url))
  t.regex(unfinished.message, /being encrypted: run `baileys-rust-auth encrypt` again to finish/)
  t.is((await t.throwsAsync(decryptStore({ store: url, key: { key } }))).code, ErrorCodes.STORE_UNAVAILABLE, 'not the other way until it finishes')
  t.deepEqual(await encryptStore({ store: url, key: { key } }), { sessions: 3 })
  const sealed = await openStore(url, { create: false, encryption: { key } })
  await readsAll(t, sealed, expected)
  t.deepEqual(await sealed.leases(), [])
  await sealed.close()

  await killMidway(t, url, 'decrypt', key)
  t.is(await openCode(url, {}), ErrorCodes.STORE_UNAVAILABLE)
  t.is(await openCode(url, { encryption: { key } }), ErrorCodes.STORE_UNAVAILABLE)
  t.regex((await t.throwsAsync(openStore(url))).message, /being decrypted: run `baileys-rust-auth decrypt` again to finish/)
  t.is((await t.throwsAsync(encryptStore({ store: url, key: { key } }))).code, ErrorCodes.STORE_UNAVAILABLE)
  t.deepEqual(await decryptStore({ store: url, key: { key } }), { sessions: 3 })
  const plain = await openStore(url, { create: false })
  await readsAll(t, plain, expected)
  t.deepEqual(await plain.leases(), [])
  await plain.close()
})

test('encryptStore and decryptStore refuse bad arguments with ERR_INVALID_ARG', async (t) => {
  const { url } = tempDb()
  for (const bad of [undefined, {}, { store: url }, { store: url, key: { key: 'x', passphrase: 'y' } }, { store: url, key: {} }]) {
    t.is((await t.throwsAsync(encryptStore(bad))).code, ErrorCodes.INVALID_ARG, JSON.stringify(bad))
  }
  const key = { key: newKey() }
  t.is((await t.throwsAsync(decryptStore({ store: url, key, storeOptions: { encryption: key } }))).code, ErrorCodes.INVALID_ARG)
  t.is((await t.throwsAsync(decryptStore({ store: url, key, onProgress: 'no' }))).code, ErrorCodes.INVALID_ARG)
  t.is((await t.throwsAsync(encryptStore({ store: url, key }))).code, ErrorCodes.STORE_NOT_FOUND, 'a conversion never creates a store')
})

test('the CLI encrypts and decrypts a store with --key-file and never prints the key', async (t) => {
  const { url } = tempDb()
  const first = await openStore(url)
  const expected = await fill(first)
  await first.close()
  const key = newKey()
  const keyFile = join(tempDir(), 'auth.key')
  writeFileSync(keyFile, `${key}\n`)
  chmodSync(keyFile, 0o600)
  const shows = (run) => [run.stdout, run.stderr].some((s) => s.includes(key))

  const usage = await cli(['encrypt', '--store', url])
  t.is(usage.code, 2)
  t.regex(usage.stderr, /--key-file or --passphrase-env is required/)
  const encrypted = await cli(['encrypt', '--store', url, '--key-file', keyFile])
  t.is(encrypted.code, 0, encrypted.stderr)
  t.regex(encrypted.stdout, /^encrypted .*: 3 session\(s\); it opens only with its key now\n$/)
  t.regex(encrypted.stderr, /encrypted acme-ops-4915550003333 \(1\/3\)/)
  t.false(shows(encrypted))
  const refused = await cli(['sessions', '--store', url])
  t.is(refused.code, 1)
  t.regex(refused.stderr, /ERR_STORE_KEY/)
  const listed = await cli(['sessions', '--store', url, '--key-file', keyFile])
  t.is(listed.stdout, `${[...SESSIONS].sort().join('\n')}\n`)
  const again = await cli(['encrypt', '--store', url, '--key-file', keyFile, '--json', '--quiet'])
  t.is(again.code, 0, again.stderr)
  t.like(JSON.parse(again.stdout), { encrypted: true, sessions: 3 })
  t.is(again.stderr, '')

  const decrypted = await cli(['decrypt', '--store', url, '--key-file', keyFile, '--json'])
  t.is(decrypted.code, 0, decrypted.stderr)
  t.like(JSON.parse(decrypted.stdout), { decrypted: true, sessions: 3 })
  t.false(shows(decrypted))
  const plain = await openStore(url, { create: false })
  await readsAll(t, plain, expected)
  await plain.close()
  const notEncrypted = await cli(['decrypt', '--store', url, '--key-file', keyFile])
  t.is(notEncrypted.code, 1)
  t.regex(notEncrypted.stderr, /not encrypted.*\(ERR_STORE_KEY\)/)
  t.false(shows(notEncrypted))
})
