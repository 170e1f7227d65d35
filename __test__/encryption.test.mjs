// Encryption at rest (docs/encryption.md): what an encrypted store leaves in its files and
// dumps, and how it refuses a missing or wrong key and a tampered value. The Baileys exchange
// and the differential test also run encrypted (helpers/backends.mjs, differential.test.mjs).
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'

import test from 'ava'

import { ErrorCodes, migrate, openStore, useRustAuthState } from '../index.mjs'
import { redisCommand, requireRedis, startRedis, stopAll } from './helpers/redis-server.mjs'
import { tempDb } from './helpers/temp.mjs'

test.after.always(stopAll)

// Names and bytes an attacker must not find: a session id, phone-number ids of every kind Baileys
// writes, creds fields and key values.
const SESSION = 'acme-support-4915550001111'
const IDS = { session: '4915552223333.0', 'sender-key': '120363041234567890@g.us::4915554445555::0', 'lid-mapping': '4915556667777' }
const CREDS_SECRET = 'creds-secret-bytes-7f3a9c'
const VALUE_SECRET = 'value-secret-bytes-1b2e4d'

function secrets() {
  return [SESSION, ...Object.values(IDS), CREDS_SECRET, VALUE_SECRET]
}

async function writeSecrets(store) {
  await store.setCreds(SESSION, { me: { id: '4915550001111:7@s.whatsapp.net' }, note: CREDS_SECRET, key: Buffer.from(CREDS_SECRET) })
  const batch = {}
  for (const [type, id] of Object.entries(IDS)) batch[type] = { [id]: { value: Buffer.from(`${VALUE_SECRET}:${type}`) } }
  await store.setKeys(SESSION, batch)
}

/** The secrets found in `bytes`, as UTF-8 or as the hex Redis and SQL dumps may show. */
function found(bytes) {
  return secrets().filter((s) => bytes.includes(Buffer.from(s)) || bytes.includes(Buffer.from(Buffer.from(s).toString('hex'))))
}

function filesOf(path) {
  return [path, `${path}-wal`, `${path}-shm`].filter(existsSync)
}

const key = () => ({ encryption: { key: randomBytes(32) } })

test('the SQLite file and its WAL hold none of the session ids, key ids or values written, while open and after close', async (t) => {
  const { path, url } = tempDb()
  const options = key()
  const store = await openStore(url, options)
  await writeSecrets(store)
  t.deepEqual(await store.sessions(), [SESSION])
  // While open: the WAL holds the last writes. Read through the page cache like any reader.
  for (const file of filesOf(path)) t.deepEqual(found(readFileSync(file)), [], file)
  await store.close()
  for (const file of filesOf(path)) t.deepEqual(found(readFileSync(file)), [], file)
  const again = await openStore(url, options)
  t.is((await again.getCreds(SESSION)).note, CREDS_SECRET)
  t.deepEqual(await again.getKeys(SESSION, 'session', [IDS.session]), { [IDS.session]: { value: Buffer.from(`${VALUE_SECRET}:session`) } })
  t.deepEqual(
    (await again.listKeys(SESSION)).map((k) => [k.type, k.id]),
    Object.entries(IDS).sort(([a], [b]) => (a < b ? -1 : 1)),
  )
  await again.close()
})

test('a Redis DUMP and SCAN of an encrypted store hold none of the session ids, key ids or values written', async (t) => {
  requireRedis(t)
  const server = await startRedis({ unixSocket: true })
  const store = await openStore(server.url, key())
  await writeSecrets(store)
  const [, keys] = await redisCommand(server, 'SCAN', '0', 'COUNT', '10000')
  t.true(keys.length > 0)
  for (const name of keys) {
    t.deepEqual(found(name), [], `key name ${name.length} bytes`)
    t.deepEqual(found(await redisCommand(server, 'DUMP', name)), [], 'a dumped value')
  }
  await store.close()
})

test('an encrypted store refuses no key, a wrong key and a passphrase with ERR_STORE_KEY, and the file is left as it was', async (t) => {
  const { path, url } = tempDb()
  const options = key()
  const store = await openStore(url, options)
  await writeSecrets(store)
  await store.close()
  const digest = () => filesOf(path).map((f) => createHash('sha256').update(readFileSync(f)).digest('hex'))
  const before = digest()
  for (const [what, opts] of [
    ['no key', {}],
    ['a wrong key', key()],
    ['a passphrase', { encryption: { passphrase: 'not it' } }],
  ]) {
    const err = await t.throwsAsync(openStore(url, opts), undefined, what)
    t.is(err.code, ErrorCodes.STORE_KEY, what)
    t.false(err.message.includes(options.encryption.key.toString('hex')), what)
  }
  await t.throwsAsync(useRustAuthState(SESSION, { store: url }), { code: 'ERR_STORE_KEY' })
  t.deepEqual(digest(), before, 'nothing was written')
})

test('a plain store with sessions is never opened as encrypted, and an encrypted one never as plain', async (t) => {
  const { url } = tempDb()
  const plain = await openStore(url)
  await plain.setCreds('s', { a: 1 })
  await plain.close()
  await t.throwsAsync(openStore(url, key()), { code: 'ERR_STORE_KEY', message: /not encrypted/ })
  const reopened = await openStore(url)
  t.deepEqual(await reopened.getCreds('s'), { a: 1 })
  await reopened.close()
})

test('a key is 32 bytes, as a Buffer, hex or base64, or a passphrase; anything else is ERR_INVALID_ARG and never echoed', async (t) => {
  const { url } = tempDb()
  const raw = randomBytes(32)
  const first = await openStore(url, { encryption: { key: raw } })
  await first.setCreds('s', { a: 1 })
  await first.close()
  for (const form of [raw.toString('hex'), raw.toString('base64'), raw.toString('base64url'), new Uint8Array(raw)]) {
    const store = await openStore(url, { encryption: { key: form } })
    t.deepEqual(await store.getCreds('s'), { a: 1 })
    await store.close()
  }
  for (const bad of [randomBytes(31), 'not a key at all', '', 42, { key: 1 }]) {
    const err = await t.throwsAsync(openStore(url, { encryption: { key: bad } }))
    t.is(err.code, 'ERR_INVALID_ARG', String(bad))
    if (typeof bad === 'string' && bad) t.false(err.message.includes(bad))
  }
  for (const bad of [{}, { key: raw, passphrase: 'x' }, { passphrase: '' }, { nonsense: 1 }, 'key']) {
    t.is((await t.throwsAsync(openStore(url, { encryption: bad }))).code, 'ERR_INVALID_ARG', JSON.stringify(bad))
  }
})

test('a passphrase opens its store again, and BAILEYS_AUTH_KEY is useRustAuthState’s key', async (t) => {
  const { url } = tempDb()
  const withPassphrase = await openStore(url, { encryption: { passphrase: 'correct horse battery staple' } })
  await withPassphrase.setCreds('s', { a: 1 })
  await withPassphrase.close()
  const again = await openStore(url, { encryption: { passphrase: 'correct horse battery staple' } })
  t.deepEqual(await again.getCreds('s'), { a: 1 })
  await again.close()

  const other = tempDb()
  const raw = randomBytes(32)
  const previous = process.env.BAILEYS_AUTH_KEY
  process.env.BAILEYS_AUTH_KEY = raw.toString('base64')
  t.teardown(() => {
    if (previous === undefined) delete process.env.BAILEYS_AUTH_KEY
    else process.env.BAILEYS_AUTH_KEY = previous
  })
  const auth = await useRustAuthState('env-session', { store: other.url })
  await auth.saveCreds()
  await auth.close()
  await t.throwsAsync(openStore(other.url), { code: 'ERR_STORE_KEY' })
  const byKey = await openStore(other.url, { encryption: { key: raw } })
  t.deepEqual(await byKey.sessions(), ['env-session'])
  await byKey.close()
})

test('useRustAuthState never shares an encrypted store with a caller holding another key or none', async (t) => {
  const { url } = tempDb()
  const options = key()
  const owner = await useRustAuthState('a', { store: url, ...options, lease: false })
  await owner.saveCreds()
  await t.throwsAsync(useRustAuthState('b', { store: url, lease: false }), { code: 'ERR_STORE_KEY' })
  await t.throwsAsync(useRustAuthState('b', { store: url, lease: false, ...key() }), { code: 'ERR_STORE_KEY' })
  const second = await useRustAuthState('b', { store: url, lease: false, ...options })
  t.is(second.store, owner.store, 'the same key shares the open store')
  await second.close()
  await owner.close()
})

/** The Redis hash that holds a session's keys of `type`, and its fields (hashed ids). */
async function sealedKeysOf(server, type) {
  const [, names] = await redisCommand(server, 'SCAN', '0', 'MATCH', `*:keys:${type}`, 'COUNT', '10000')
  t_assert(names.length === 1, `one hash of ${type} keys`)
  const flat = await redisCommand(server, 'HGETALL', names[0])
  const fields = []
  for (let i = 0; i < flat.length; i += 2) fields.push([flat[i], flat[i + 1]])
  return { hash: names[0], fields }
}

function t_assert(cond, message) {
  if (!cond) throw new Error(message)
}

test('a flipped bit, a truncated value and two values swapped by hand each reject ERR_STORE_CORRUPT naming the key, not its value', async (t) => {
  requireRedis(t)
  const server = await startRedis({ unixSocket: true })
  const store = await openStore(server.url, key())
  await store.setKeys('s', { 'pre-key': { 1: { v: Buffer.from('one-secret') }, 2: { v: Buffer.from('two-secret') } } })
  const { hash, fields } = await sealedKeysOf(server, 'pre-key')
  t.is(fields.length, 2)
  const corrupt = async (what) => {
    const err = await t.throwsAsync(store.getKeys('s', 'pre-key', ['1', '2']), undefined, what)
    t.is(err.code, 'ERR_STORE_CORRUPT', what)
    t.regex(err.message, /"pre-key" "[12]" in session "s"/, what)
    t.false(/one-secret|two-secret/.test(err.message), what)
  }
  const [[f1, v1], [f2, v2]] = fields
  // Two values swapped: each is sealed for its own row.
  await redisCommand(server, 'HSET', hash, f1, v2, f2, v1)
  await corrupt('swapped')
  const flipped = Buffer.from(v1)
  flipped[flipped.length - 3] ^= 0x10
  await redisCommand(server, 'HSET', hash, f1, flipped, f2, v2)
  await corrupt('a flipped bit')
  await redisCommand(server, 'HSET', hash, f1, v1.subarray(0, v1.length - 5))
  await corrupt('truncated')
  await redisCommand(server, 'HSET', hash, f1, v1)
  t.deepEqual(await store.getKeys('s', 'pre-key', ['1', '2']), { 1: { v: Buffer.from('one-secret') }, 2: { v: Buffer.from('two-secret') } }, 'restored')
  await store.close()
})

test('migrate converts a plain store into an encrypted one, and moves sessions between stores under different keys', async (t) => {
  const plain = await openStore(tempDb().url)
  await writeSecrets(plain)
  const a = await openStore(tempDb().url, key())
  const b = await openStore(tempDb().url, key())
  t.teardown(() => Promise.all([plain.close(), a.close(), b.close()]))
  await migrate({ from: plain, to: a })
  await migrate({ from: a, to: b })
  for (const store of [a, b]) {
    t.deepEqual(await store.sessions(), [SESSION])
    t.is((await store.getCreds(SESSION)).note, CREDS_SECRET)
    t.deepEqual(await store.listKeys(SESSION), await plain.listKeys(SESSION))
    for (const [type, id] of Object.entries(IDS)) t.deepEqual(await store.getKeys(SESSION, type, [id]), await plain.getKeys(SESSION, type, [id]))
  }
})

test('the key may come from a callback (a KMS, the OS keychain), called once as the store opens', async (t) => {
  const { url } = tempDb()
  const key = randomBytes(32)
  let calls = 0
  const fromKms = async () => {
    calls += 1
    return { key }
  }
  const store = await openStore(url, { encryption: fromKms })
  t.true(store.encrypted)
  await store.setCreds('s', { n: 1 })
  await store.close()
  t.is(calls, 1)
  const again = await openStore(url, { encryption: { key } })
  t.deepEqual(await again.getCreds('s'), { n: 1 })
  await again.close()
  const { state, close } = await useRustAuthState('s', { store: url, encryption: () => ({ key: key.toString('base64') }) })
  t.is(state.creds.n, 1)
  await close()
  const down = new Error('the KMS cannot be reached')
  t.is(await t.throwsAsync(openStore(url, { encryption: () => Promise.reject(down) })), down)
  t.is((await t.throwsAsync(openStore(url, { encryption: async () => null }))).code, ErrorCodes.INVALID_ARG)
  t.is((await t.throwsAsync(openStore(url, { encryption: async () => ({ key: 'short' }) }))).code, ErrorCodes.INVALID_ARG)
  t.is((await t.throwsAsync(openStore(url, { encryption: async () => ({ key: randomBytes(32) }) }))).code, ErrorCodes.STORE_KEY)
})
