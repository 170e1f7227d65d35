// Encrypted stores from the CLI (docs/cli.md, "Encrypted stores"): --key-file and
// --passphrase-env on every command that opens a store, migrate's --from-… / --to-… keys, and
// values kept sealed unless --decrypt (exportFolder's and migrate's `decrypt: true`). No run
// may print a key or a passphrase.
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { exportFolder, migrate, openStore } from '../index.mjs'
import { cli } from './helpers/cli.mjs'
import { CREDS, folderWith } from './helpers/folder-with.mjs'
import { requireRedis, startRedis, stopAll } from './helpers/redis-server.mjs'
import { tempDb, tempDir } from './helpers/temp.mjs'

test.after.always(stopAll)

/** Every secret the tests hand the CLI: none may appear in its output. */
const secrets = new Set()

/** A key file (mode 0600 unless told): `{ path, key, text }`, `text` what it holds as text (or null for raw bytes). */
function keyFile({ as = 'hex', mode = 0o600 } = {}) {
  const key = randomBytes(32)
  const path = join(tempDir(), 'auth.key')
  let text = null
  if (as === 'raw') writeFileSync(path, key)
  else {
    text = key.toString(as)
    // Whitespace around the text is ignored, as a shell's `> file` leaves it.
    writeFileSync(path, `  ${text}\n\n`)
    secrets.add(text)
  }
  secrets.add(key.toString('hex'))
  secrets.add(key.toString('base64'))
  chmodSync(path, mode)
  return { path, key, text }
}

/** A passphrase in an environment variable of a random name: `{ name, passphrase, env }`. */
function passphraseVar() {
  const name = `BRA_TEST_PASSPHRASE_${randomBytes(4).toString('hex').toUpperCase()}`
  const passphrase = `correct horse ${randomBytes(8).toString('hex')}`
  secrets.add(passphrase)
  return { name, passphrase, env: { [name]: passphrase } }
}

/** Runs the CLI and checks that no secret shows in what it printed. */
async function run(t, args, options) {
  const result = await cli(args, options)
  for (const secret of secrets) {
    t.false(result.stdout.includes(secret), `stdout of ${args[0]} holds a secret`)
    t.false(result.stderr.includes(secret), `stderr of ${args[0]} holds a secret`)
  }
  return result
}

/** A small useMultiFileAuthState folder: creds.json and three pre-keys. */
const smallFolder = () => folderWith({ 'pre-key-1.json': { public: 'one' }, 'pre-key-2.json': { public: 'two' }, 'pre-key-3.json': { public: 'three' } })

/** `code` and `ERR_…` of a failed run. */
function failed(t, result, exitCode, errorCode, what) {
  t.is(result.code, exitCode, `${what}: ${result.stderr}`)
  t.true(result.stderr.includes(`(${errorCode})`), `${what}: ${result.stderr}`)
}

/** Library options for a key (a Buffer) or a passphrase. */
const encryption = (secret) => ({ encryption: secret.key ? { key: secret.key } : { passphrase: secret.passphrase } })

/**
 * The commands on an encrypted store, for one backend and one kind of secret: `store()`
 * resolves to `{ url, flags, library }` (flags naming the backend, e.g. --key-prefix, and
 * openStore's options for it).
 */
async function everyCommand(t, { store, secret }) {
  const { url, flags: backendFlags, library } = await store()
  const keyFlags = secret.path ? ['--key-file', secret.path] : ['--passphrase-env', secret.name]
  const env = secret.env ?? {}
  const withKey = [...backendFlags, ...keyFlags]
  const folder = smallFolder()

  const imported = await run(t, ['import', folder, '--session', 'alice', '--to', url, ...withKey, '--quiet'], { env })
  t.is(imported.code, 0, imported.stderr)
  t.regex(imported.stdout, /as session alice: 3 keys \(3 written, 0 already there\), verified/)
  t.false(imported.stderr.includes('warning'), 'a key file of mode 0600 gets no warning')

  // The store is encrypted: the library opens it with the key only.
  await t.throwsAsync(openStore(url, { ...library, create: false }), { code: 'ERR_STORE_KEY' })
  const opened = await openStore(url, { ...library, ...encryption(secret) })
  t.true(opened.encrypted)
  t.deepEqual(await opened.sessions(), ['alice'])
  t.deepEqual(await opened.getCreds('alice'), CREDS)
  await opened.close()

  // Without the flag, every command fails ERR_STORE_KEY, naming the flags.
  const target = tempDir()
  const withoutKey = [
    ['sessions', '--store', url],
    ['stats', 'alice', '--store', url],
    ['export', join(target, 'nokey'), '--session', 'alice', '--from', url, '--decrypt', '--quiet'],
    ['delete-session', 'alice', '--yes', '--store', url],
    ['import', folder, '--session', 'bob', '--to', url, '--quiet'],
  ]
  for (const args of withoutKey) {
    const refused = await run(t, [...args, ...backendFlags])
    failed(t, refused, 1, 'ERR_STORE_KEY', args[0])
    t.true(refused.stderr.includes('--key-file or --passphrase-env'), `${args[0]} names the flags: ${refused.stderr}`)
    t.false(refused.stderr.includes('options.encryption'), args[0])
  }
  const json = await run(t, ['sessions', '--store', url, ...backendFlags, '--json'])
  t.is(JSON.parse(json.stdout).error.code, 'ERR_STORE_KEY')

  // With it, they work.
  t.is((await run(t, ['sessions', '--store', url, ...withKey], { env })).stdout, 'alice\n')
  const stats = await run(t, ['stats', 'alice', '--store', url, ...withKey, '--json'], { env })
  t.is(stats.code, 0, stats.stderr)
  t.is(JSON.parse(stats.stdout).totalKeys, 3)
  const all = await run(t, ['stats', '--store', url, ...withKey], { env })
  t.regex(all.stdout, /\nalice +3 /)

  // Export: refused without --decrypt, and no folder; with it, the folder in the clear.
  const sealed = await run(t, ['export', join(target, 'sealed'), '--session', 'alice', '--from', url, ...withKey, '--quiet'], { env })
  failed(t, sealed, 1, 'ERR_INVALID_ARG', 'export without --decrypt')
  t.regex(sealed.stderr, /in the clear: run again with --decrypt/)
  t.false(existsSync(join(target, 'sealed')), 'no folder')
  t.deepEqual(readdirSync(target), [], 'nothing beside it either')
  const exported = await run(t, ['export', join(target, 'out'), '--session', 'alice', '--from', url, ...withKey, '--decrypt', '--quiet', '--json'], { env })
  t.is(exported.code, 0, exported.stderr)
  t.is(JSON.parse(exported.stdout).keys, 3)
  t.deepEqual(readdirSync(join(target, 'out')).sort(), readdirSync(folder).sort())
  t.deepEqual(JSON.parse(readFileSync(join(target, 'out', 'creds.json'), 'utf8')), CREDS)

  const deleted = await run(t, ['delete-session', 'alice', '--yes', '--store', url, ...withKey], { env })
  t.is(deleted.code, 0, deleted.stderr)
  t.is((await run(t, ['sessions', '--store', url, ...withKey], { env })).stdout, '')
}

test('SQLite: import with --key-file makes an encrypted store; every command opens it with the flag only', async (t) => {
  await everyCommand(t, { store: async () => ({ url: tempDb().url, flags: [], library: {} }), secret: keyFile() })
})

test('SQLite: the same with --passphrase-env', async (t) => {
  await everyCommand(t, { store: async () => ({ url: tempDb().url, flags: [], library: {} }), secret: passphraseVar() })
})

const redisStore = async () => {
  const server = await startRedis()
  const keyPrefix = `bra-cli-enc-${randomBytes(6).toString('hex')}`
  return { url: server.url, flags: ['--key-prefix', keyPrefix], library: { keyPrefix } }
}

test('Redis: import with --key-file makes an encrypted store; every command opens it with the flag only', async (t) => {
  if (!requireRedis(t)) return
  await everyCommand(t, { store: redisStore, secret: keyFile({ as: 'base64' }) })
})

test('Redis: the same with --passphrase-env', async (t) => {
  if (!requireRedis(t)) return
  await everyCommand(t, { store: redisStore, secret: passphraseVar() })
})

test('backup of an encrypted SQLite store is as sealed as the store and opens with the same key', async (t) => {
  for (const secret of [keyFile(), passphraseVar()]) {
    const keyFlags = secret.path ? ['--key-file', secret.path] : ['--passphrase-env', secret.name]
    const { url } = tempDb()
    t.is((await run(t, ['import', smallFolder(), '--session', 'alice', '--to', url, ...keyFlags, '--quiet'], { env: secret.env })).code, 0)
    const file = join(tempDir(), 'backup.db')
    failed(t, await run(t, ['backup', file, '--store', url]), 1, 'ERR_STORE_KEY', 'backup without the key')
    t.false(existsSync(file))
    const backup = await run(t, ['backup', file, '--store', url, ...keyFlags, '--json'], { env: secret.env })
    t.is(backup.code, 0, backup.stderr)
    t.is(JSON.parse(backup.stdout).file, file)
    t.false(readFileSync(file).includes(Buffer.from('three')), 'no value in the clear')
    failed(t, await run(t, ['sessions', '--store', file]), 1, 'ERR_STORE_KEY', 'the copy without the key')
    t.is((await run(t, ['sessions', '--store', file, ...keyFlags], { env: secret.env })).stdout, 'alice\n')
    const copy = await openStore(`sqlite:${file}`, encryption(secret))
    t.true(copy.encrypted)
    t.deepEqual(await copy.getKeys('alice', 'pre-key', ['3']), { 3: { public: 'three' } })
    await copy.close()
  }
})

test('a key file holds hex or base64 text with whitespace around it, or 32 raw bytes; one others can read gets a warning', async (t) => {
  for (const as of ['hex', 'base64', 'raw']) {
    const secret = keyFile({ as })
    const { url } = tempDb()
    const imported = await run(t, ['import', smallFolder(), '--session', 's', '--to', url, '--key-file', secret.path, '--quiet'])
    t.is(imported.code, 0, `${as}: ${imported.stderr}`)
    t.is(imported.stderr, '', `${as}: no warning for mode 0600`)
    const store = await openStore(url, { encryption: { key: secret.key } })
    t.deepEqual(await store.sessions(), ['s'], as)
    await store.close()
  }
  const open = keyFile({ mode: 0o644 })
  const { url } = tempDb()
  const warned = await run(t, ['import', smallFolder(), '--session', 's', '--to', url, '--key-file', open.path, '--quiet'])
  t.is(warned.code, 0, warned.stderr)
  t.is(warned.stderr, `warning: ${open.path} is readable by other users (mode 0644): chmod 600 it\n`)
  const group = keyFile({ mode: 0o640 })
  const again = await run(t, ['sessions', '--store', url, '--key-file', group.path])
  t.regex(again.stderr, /^warning: .* is readable by other users \(mode 0640\): chmod 600 it\n/)
  failed(t, again, 1, 'ERR_STORE_KEY', 'another key')
  t.regex(again.stderr, /does not open this store/)
})

test('wrong usage of the secret flags: exit code 2, naming the variable or file, never a secret', async (t) => {
  const { url } = tempDb()
  const secret = passphraseVar()
  const key = keyFile()
  t.is((await run(t, ['import', smallFolder(), '--session', 's', '--to', url, '--passphrase-env', secret.name, '--quiet'], { env: secret.env })).code, 0)

  const unset = await run(t, ['sessions', '--store', url, '--passphrase-env', 'BRA_TEST_NOT_SET_ANYWHERE'])
  t.is(unset.code, 2)
  t.regex(unset.stderr, /^error: --passphrase-env: the environment variable BRA_TEST_NOT_SET_ANYWHERE is not set\n/)
  const empty = await run(t, ['stats', '--store', url, '--passphrase-env', secret.name], { env: { [secret.name]: '' } })
  t.is(empty.code, 2)
  t.regex(empty.stderr, new RegExp(`^error: --passphrase-env: the environment variable ${secret.name} is empty\\n`))
  const both = await run(t, ['sessions', '--store', url, '--passphrase-env', secret.name, '--key-file', key.path], { env: secret.env })
  t.is(both.code, 2)
  t.regex(both.stderr, /--key-file and --passphrase-env cannot be given together/)
  const missing = await run(t, ['sessions', '--store', url, '--key-file', join(tempDir(), 'nope.key')])
  t.is(missing.code, 2)
  t.regex(missing.stderr, /nope\.key: the key file cannot be read \(ENOENT\)/)
  const migrateUnset = await run(t, ['migrate', '--from', url, '--to', tempDb().url, '--from-passphrase-env', 'BRA_TEST_NOT_SET_ANYWHERE'])
  t.is(migrateUnset.code, 2)
  t.regex(migrateUnset.stderr, /--from-passphrase-env: the environment variable BRA_TEST_NOT_SET_ANYWHERE is not set/)

  // A passphrase where the store has a key (and the other way round): the flag to use instead.
  const keyed = tempDb().url
  t.is((await run(t, ['import', smallFolder(), '--session', 's', '--to', keyed, '--key-file', key.path, '--quiet'])).code, 0)
  const passphraseForKey = await run(t, ['sessions', '--store', keyed, '--passphrase-env', secret.name], { env: secret.env })
  failed(t, passphraseForKey, 1, 'ERR_STORE_KEY', 'a passphrase for a keyed store')
  t.regex(passphraseForKey.stderr, /not a passphrase: open it with --key-file/)
  const keyForPassphrase = await run(t, ['sessions', '--store', url, '--key-file', key.path])
  failed(t, keyForPassphrase, 1, 'ERR_STORE_KEY', 'a key for a passphrase store')
  t.regex(keyForPassphrase.stderr, /not a key of 32 bytes: open it with --passphrase-env/)
  // A plain store with sessions is not opened with a key.
  const plain = tempDb().url
  t.is((await run(t, ['import', smallFolder(), '--session', 's', '--to', plain, '--quiet'])).code, 0)
  const keyForPlain = await run(t, ['import', smallFolder(), '--session', 't', '--to', plain, '--key-file', key.path, '--quiet'])
  failed(t, keyForPlain, 1, 'ERR_STORE_KEY', 'a key for a plain store')
  t.regex(keyForPlain.stderr, /open it without --key-file or --passphrase-env/)
})

test('migrate: plain to encrypted, encrypted to encrypted with another key, and to a plain store only with --decrypt', async (t) => {
  const plain = tempDb()
  t.is((await run(t, ['import', smallFolder(), '--session', 'alice', '--to', plain.url, '--quiet'])).code, 0)
  const first = keyFile()
  const second = passphraseVar()
  const third = keyFile({ as: 'base64' })

  // Plain to encrypted: the target's key only.
  const sealed = tempDb()
  const encrypting = await run(t, ['migrate', '--from', plain.url, '--to', sealed.url, '--to-key-file', first.path, '--quiet'])
  t.is(encrypting.code, 0, encrypting.stderr)
  t.regex(encrypting.stdout, /migrated 1 session\(s\) .*: 3 keys \(3 written, 0 already there\), verified/)
  await t.throwsAsync(openStore(sealed.url, { create: false }), { code: 'ERR_STORE_KEY' })

  // Encrypted to encrypted, another key (a passphrase here), and to a third with --key-file
  // for the source and --to-key-file overriding it for the target.
  const other = tempDb()
  const rekeyed = await run(t, ['migrate', '--from', sealed.url, '--to', other.url, '--from-key-file', first.path, '--to-passphrase-env', second.name, '--quiet'], {
    env: second.env,
  })
  t.is(rekeyed.code, 0, rekeyed.stderr)
  const chained = tempDb()
  const overridden = await run(t, ['migrate', '--from', other.url, '--to', chained.url, '--passphrase-env', second.name, '--to-key-file', third.path, '--quiet'], {
    env: second.env,
  })
  t.is(overridden.code, 0, overridden.stderr)
  const reopened = await openStore(chained.url, { encryption: { key: third.key } })
  t.deepEqual(await reopened.getKeys('alice', 'pre-key', ['1', '2']), { 1: { public: 'one' }, 2: { public: 'two' } })
  await reopened.close()
  // The same key for both stores: --key-file alone.
  const same = tempDb()
  t.is((await run(t, ['migrate', '--from', sealed.url, '--to', same.url, '--key-file', first.path, '--quiet'])).code, 0)
  const sameStore = await openStore(same.url, { encryption: { key: first.key } })
  t.deepEqual(await sameStore.sessions(), ['alice'])
  await sameStore.close()

  // A key that does not open the source names migrate's flags for it.
  const wrong = await run(t, ['migrate', '--from', sealed.url, '--to', tempDb().url, '--to-key-file', first.path, '--quiet'])
  failed(t, wrong, 1, 'ERR_STORE_KEY', 'the source without its key')
  t.regex(wrong.stderr, /the source store \(--from\) is encrypted: open it with its key \(--from-key-file or --from-passphrase-env; /)

  // Encrypted to plain: refused without --decrypt, before the target is made.
  const clear = tempDb()
  const refused = await run(t, ['migrate', '--from', sealed.url, '--to', clear.url, '--from-key-file', first.path, '--quiet', '--json'])
  failed(t, refused, 1, 'ERR_INVALID_ARG', 'encrypted to plain')
  t.regex(refused.stderr, /the source store \(--from\) is encrypted and the target \(--to\) is not: .*in the clear.*--decrypt/)
  t.is(JSON.parse(refused.stdout).error.code, 'ERR_INVALID_ARG')
  t.false(existsSync(clear.path), 'no target store is made')
  const decrypted = await run(t, ['migrate', '--from', sealed.url, '--to', clear.url, '--from-key-file', first.path, '--decrypt', '--quiet'])
  t.is(decrypted.code, 0, decrypted.stderr)
  const plainAgain = await openStore(clear.url)
  t.false(plainAgain.encrypted)
  t.deepEqual(await plainAgain.getCreds('alice'), CREDS)
  await plainAgain.close()

  // --key-file for both stores is wrong usage when both have a key of their own.
  const neither = await run(t, ['migrate', '--from', sealed.url, '--to', tempDb().url, '--key-file', first.path, '--from-key-file', first.path, '--to-key-file', third.path])
  t.is(neither.code, 2)
})

test('exportFolder refuses a session of an encrypted store without decrypt: true, given an AuthStore or a URL', async (t) => {
  const { url } = tempDb()
  const key = randomBytes(32)
  const store = await openStore(url, { encryption: { key } })
  t.true(store.encrypted)
  await store.setCreds('alice', CREDS)
  await store.setKeys('alice', { 'pre-key': { 1: { public: 'one' } } })
  const dir = tempDir()
  for (const source of [{ store }, { store: url, storeOptions: { encryption: { key } } }]) {
    const err = await t.throwsAsync(exportFolder(join(dir, 'sealed'), { session: 'alice', ...source }), { code: 'ERR_INVALID_ARG' })
    t.regex(err.message, /encrypted, and a useMultiFileAuthState folder would hold the creds and keys in the clear: pass decrypt: true/)
    t.false(existsSync(join(dir, 'sealed')))
  }
  t.is(await store.lease('alice'), null, 'refused before any lease is taken')
  await t.throwsAsync(exportFolder(join(dir, 'x'), { session: 'alice', store, decrypt: 'yes' }), { code: 'ERR_INVALID_ARG', message: /decrypt must be a boolean/ })
  const viaStore = await exportFolder(join(dir, 'a'), { session: 'alice', store, decrypt: true })
  t.is(viaStore.keys, 1)
  await store.close()
  const viaUrl = await exportFolder(join(dir, 'b'), { session: 'alice', store: url, storeOptions: { encryption: { key } }, decrypt: true })
  t.is(viaUrl.keys, 1)
  t.deepEqual(JSON.parse(readFileSync(join(dir, 'b', 'pre-key-1.json'), 'utf8')), { public: 'one' })

  // A plain store needs no flag, and decrypt: true changes nothing for it.
  const plain = await openStore(tempDb().url)
  t.false(plain.encrypted)
  await plain.setCreds('bob', CREDS)
  t.is((await exportFolder(join(dir, 'c'), { session: 'bob', store: plain })).keys, 0)
  t.is((await exportFolder(join(dir, 'd'), { session: 'bob', store: plain, decrypt: true })).keys, 0)
  await plain.close()
})

test('migrate refuses an encrypted store into a plain one without decrypt: true, before opening either; other directions need nothing', async (t) => {
  const key = randomBytes(32)
  const other = randomBytes(32)
  const from = tempDb()
  const source = await openStore(from.url, { encryption: { key } })
  await source.setCreds('alice', CREDS)
  await source.setKeys('alice', { 'pre-key': { 1: { public: 'one' } } })

  // An AuthStore and a URL, as source and as target.
  const plainTarget = tempDb()
  await t.throwsAsync(migrate({ from: source, to: plainTarget.url }), { code: 'ERR_INVALID_ARG', message: /options\.from is encrypted and options\.to is not.*decrypt: true/ })
  t.false(existsSync(plainTarget.path), 'the target is not opened, so not made')
  await source.close()
  await t.throwsAsync(migrate({ from: from.url, fromOptions: { encryption: { key } }, to: plainTarget.url }), { code: 'ERR_INVALID_ARG' })
  const plainStore = await openStore(tempDb().url)
  await t.throwsAsync(migrate({ from: from.url, fromOptions: { encryption: { key } }, to: plainStore }), { code: 'ERR_INVALID_ARG' })
  t.deepEqual(await plainStore.sessions(), [])
  await t.throwsAsync(migrate({ from: from.url, fromOptions: { encryption: { key } }, to: plainStore, decrypt: 1 }), { code: 'ERR_INVALID_ARG', message: /decrypt must be a boolean/ })

  const decrypted = await migrate({ from: from.url, fromOptions: { encryption: { key } }, to: plainStore, decrypt: true })
  t.deepEqual(decrypted.sessions.map((s) => s.session), ['alice'])
  t.deepEqual(await plainStore.getCreds('alice'), CREDS)

  // Plain to encrypted, and encrypted to encrypted with another key: no flag.
  const sealed = await openStore(tempDb().url, { encryption: { key: other } })
  t.true(sealed.encrypted)
  t.is((await migrate({ from: plainStore, to: sealed })).sessions.length, 1)
  await plainStore.close()
  const rekeyed = tempDb()
  t.is((await migrate({ from: sealed, to: rekeyed.url, toOptions: { encryption: { passphrase: 'another one' } } })).sessions.length, 1)
  await sealed.close()
  const check = await openStore(rekeyed.url, { encryption: { passphrase: 'another one' } })
  t.deepEqual(await check.getKeys('alice', 'pre-key', ['1']), { 1: { public: 'one' } })
  await check.close()

  // A key that does not open a store given as a URL says which.
  const err = await t.throwsAsync(migrate({ from: from.url, to: tempDb().url }), { code: 'ERR_STORE_KEY' })
  t.is(err.storeOption, 'from')
  const wrongTarget = await t.throwsAsync(migrate({ from: from.url, fromOptions: { encryption: { key } }, to: rekeyed.url, toOptions: { encryption: { key: other } } }), {
    code: 'ERR_STORE_KEY',
  })
  t.is(wrongTarget.storeOption, 'to')
})

test('rekey changes the key from the command line, never printing either key, and exits 3 while an owner holds a session', async (t) => {
  const { url } = tempDb()
  const old = keyFile({ as: 'base64' })
  const pass = passphraseVar()
  const store = await openStore(url, encryption(old))
  await store.setCreds('bot', CREDS)
  await store.setKeys('bot', { 'pre-key': { 1: { public: Buffer.from('one') } } })
  await store.setCreds('idle', CREDS)
  // An owner that holds `bot` and never renews (so it never re-seals it): the rekey must leave it.
  const granted = await store.acquireLease('bot', { leaseMs: 60000 })
  const usage = await run(t, ['rekey', '--store', url, '--key-file', old.path])
  t.is(usage.code, 2)
  t.regex(usage.stderr, /--new-key-file or --new-passphrase-env is required/)
  const waiting = await run(t, ['rekey', '--store', url, '--key-file', old.path, '--new-passphrase-env', pass.name, '--wait-seconds', '0', '--json'], { env: pass.env })
  t.is(waiting.code, 3, waiting.stderr)
  const report = JSON.parse(waiting.stdout)
  t.like(report, { sessions: 2, finished: false })
  t.deepEqual(report.pending.map((p) => [p.session, p.owner.pid]), [['bot', process.pid]])
  t.regex(waiting.stderr, /not re-sealed: bot: 2 value\(s\), owned by .* \(pid \d+\)/)
  // Mid-rekey both the old key and the new passphrase open the store.
  t.deepEqual((await run(t, ['sessions', '--store', url, '--key-file', old.path])).stdout, 'bot\nidle\n')
  t.deepEqual((await run(t, ['sessions', '--store', url, '--passphrase-env', pass.name], { env: pass.env })).stdout, 'bot\nidle\n')
  await store.releaseLease('bot', granted.fence)
  await store.close()
  const done = await run(t, ['rekey', '--store', url, '--key-file', old.path, '--new-passphrase-env', pass.name], { env: pass.env })
  t.is(done.code, 0, done.stderr)
  t.regex(done.stdout, /^rekeyed .*: 2 session\(s\), \d+ value\(s\) re-sealed; only the new key opens it now\n$/)
  t.regex(done.stderr, /re-sealed bot: 2 value\(s\)/)
  failed(t, await run(t, ['sessions', '--store', url, '--key-file', old.path]), 1, 'ERR_STORE_KEY', 'the old key after the rekey')
  const after = await openStore(url, { encryption: { passphrase: pass.passphrase } })
  t.deepEqual(await after.getKeys('bot', 'pre-key', ['1']), { 1: { public: Buffer.from('one') } })
  await after.close()
  const wrong = keyFile()
  failed(t, await run(t, ['rekey', '--store', url, '--key-file', wrong.path, '--new-key-file', keyFile().path]), 1, 'ERR_STORE_KEY', 'a wrong key')
})
