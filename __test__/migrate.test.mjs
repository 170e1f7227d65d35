// Moving sessions without re-pairing: a folder written by real Baileys is imported, the
// conversation continues on our store, and goes on again after export back to a folder;
// migrations between stores are byte for byte; imports resume and report what they skip.
import test from 'ava'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { exportFolder, importFolder, migrate, openStore, useRustAuthState } from '../index.mjs'
import { NativeStore } from '../binding.js'
import { sendGroup } from '../examples/lib/simulated-devices.mjs'
import { APP_STATE_KEY_ID, baileys, converse, folderDigest, makeBaileysFolders, openDevices, rewriteAs67 } from './helpers/baileys-folders.mjs'
import { requireRedis, startRedis, stopAll } from './helpers/redis-server.mjs'
import { mysqlUrl, postgresUrl, requireSqlServers } from './helpers/sql-servers.mjs'
import { tempDb, tempDir } from './helpers/temp.mjs'

const require = (await import('node:module')).createRequire(import.meta.url)
const folderFormat = require('../lib/folder.js')

test.after.always(stopAll)

/** Alice on `aliceAuth`, Bob on his own folder; they must keep talking, 1:1 and in groups. */
async function continueConversation(t, ids, aliceAuth, bobFolder) {
  const { alice, bob } = await openDevices(ids, (name) =>
    name === 'alice' ? aliceAuth : baileys.useMultiFileAuthState(bobFolder),
  )
  await converse(t, alice, bob, 20, 'after the move')
  // The sender keys came along: nobody needs a new distribution message.
  t.deepEqual((await sendGroup(alice, [bob], ids.GROUP, 'group after the move')).skdmTo, [])
  t.deepEqual((await sendGroup(bob, [alice], ids.GROUP, 'group reply after the move')).skdmTo, [])
  t.deepEqual((await sendGroup(alice, [bob], ids.OLD_GROUP, 'old group after the move')).skdmTo, [])
  return { alice, bob }
}

test('a folder written by real Baileys imports exactly, the conversation continues on the store, and again after export back to a folder', async (t) => {
  const dir = tempDir()
  const ids = await makeBaileysFolders(t, dir)
  const aliceFolder = join(dir, 'alice')
  const before = folderDigest(aliceFolder)
  const files = readdirSync(aliceFolder)
  t.true(files.some((f) => f.startsWith('sender-key-') && f.includes('--')), 'sender-key ids had :: in them')
  t.true(files.includes(folderFormat.fileNameOf('app-state-sync-key', APP_STATE_KEY_ID)))
  t.true(APP_STATE_KEY_ID.includes('/'))

  const { url } = tempDb()
  const store = await openStore(url)
  const result = await importFolder(aliceFolder, { session: 'alice', store })
  t.deepEqual(result.problems, [])
  t.is(result.keys, files.length - 1)
  t.is(result.written, result.keys)
  t.is(folderDigest(aliceFolder), before, 'the source folder is not modified')

  // The ids are the ones Baileys asks for.
  const keys = await store.listKeys('alice')
  const senderKeyIds = keys.filter((k) => k.type === 'sender-key').map((k) => k.id)
  t.true(senderKeyIds.includes(`${ids.GROUP}::${ids.ALICE.lid.split('@')[0]}_1::0`), senderKeyIds.join(', '))
  t.true(senderKeyIds.some((id) => id.startsWith(`${ids.OLD_GROUP}::`)))
  t.truthy(keys.find((k) => k.type === 'app-state-sync-key' && k.id === APP_STATE_KEY_ID))
  t.truthy(keys.find((k) => k.type === 'tctoken' && k.id === '__index'))
  t.truthy(keys.find((k) => k.type === 'lid-mapping' && k.id.endsWith('_reverse')))

  const aliceAuth = await useRustAuthState('alice', { store, baileys })
  const { [APP_STATE_KEY_ID]: syncKey } = await aliceAuth.state.keys.get('app-state-sync-key', [APP_STATE_KEY_ID])
  t.true(syncKey instanceof baileys.proto.Message.AppStateSyncKeyData)
  t.is(syncKey.keyData.length, 32)
  await continueConversation(t, ids, aliceAuth, join(dir, 'bob'))

  // Back to a folder, once the application has stopped (a session it owns is refused):
  // Baileys' own store opens it and the conversation goes on.
  const exported = join(dir, 'alice-exported')
  await t.throwsAsync(exportFolder(exported, { session: 'alice', store }), { code: 'ERR_SESSION_LOCKED' })
  await aliceAuth.close()
  const out = await exportFolder(exported, { session: 'alice', store })
  t.is(out.keys, (await store.listKeys('alice')).length)
  await store.close()
  t.deepEqual(
    readdirSync(exported).filter((f) => !f.startsWith('pre-key-')).sort(),
    readdirSync(aliceFolder).filter((f) => !f.startsWith('pre-key-')).sort(),
    'the same key files as Baileys wrote (pre-keys may have been used up since)',
  )
  t.is(statSync(join(exported, 'creds.json')).mode & 0o777, 0o600)
  await continueConversation(t, ids, await baileys.useMultiFileAuthState(exported), join(dir, 'bob'))
})

test('a 6.7-era folder (Buffers as number arrays) imports and Baileys 7 keeps decrypting with it', async (t) => {
  const dir = tempDir()
  const ids = await makeBaileysFolders(t, dir)
  const aliceFolder = join(dir, 'alice')
  rewriteAs67(aliceFolder)
  t.regex(readFileSync(join(aliceFolder, 'creds.json'), 'utf8'), /"data":\[\d/)

  const store = await openStore(tempDb().url)
  const result = await importFolder(aliceFolder, { session: 'alice', store })
  t.deepEqual(result.problems, [])
  const creds = await store.getCreds('alice')
  t.true(Buffer.isBuffer(creds.noiseKey.private), 'creds Buffers are Buffers again')
  t.true(Buffer.isBuffer(creds.signedIdentityKey.public))
  await continueConversation(t, ids, await useRustAuthState('alice', { store, baileys }), join(dir, 'bob'))
  await store.close()
})

/** Every key of every session of a store, as raw stored bytes: `type id` → hex. */
async function rawContents(url, options) {
  const native = await NativeStore.open(url, options)
  const out = {}
  const { decodeValue } = require('../lib/codec.js')
  for (const session of await native.sessions()) {
    out[`${session} creds`] = (await native.getCreds(session)).toString('hex')
    const list = decodeValue(await native.listKeys(session))
    for (const [type, id] of list) {
      const results = await native.getKeys(session, type, [id])
      out[`${session} ${type} ${id}`] = results.toString('hex')
    }
  }
  await native.close()
  return out
}

test('migration SQLite → PostgreSQL → MySQL → Redis → SQLite keeps every key byte for byte, for every session', async (t) => {
  requireRedis(t)
  if (!requireSqlServers(t)) return
  const dir = tempDir()
  await makeBaileysFolders(t, dir)
  const first = tempDb().url
  await importFolder(join(dir, 'alice'), { session: 'alice', store: first })
  await importFolder(join(dir, 'bob'), { session: 'bob/2:1', store: first })
  const redis = await startRedis({ unixSocket: true })
  const chain = [first, postgresUrl(), mysqlUrl(), redis.url, tempDb().url]

  for (let i = 1; i < chain.length; i++) {
    const step = await migrate({ from: chain[i - 1], to: chain[i] })
    t.deepEqual(step.sessions.map((s) => s.session), ['alice', 'bob/2:1'], `step ${i}`)
  }
  const original = await rawContents(first)
  t.true(Object.keys(original).length > 60)
  for (const [i, url] of chain.entries()) t.deepEqual(await rawContents(url), original, `store ${i} of the chain`)
})

test('migration SQLite → Redis → SQLite keeps every key byte for byte, for every session', async (t) => {
  requireRedis(t)
  const dir = tempDir()
  await makeBaileysFolders(t, dir)
  const first = tempDb().url
  await importFolder(join(dir, 'alice'), { session: 'alice', store: first })
  await importFolder(join(dir, 'bob'), { session: 'bob/2:1', store: first })
  const redis = await startRedis({ unixSocket: true })
  const last = tempDb().url

  const there = await migrate({ from: first, to: redis.url })
  t.deepEqual(there.sessions.map((s) => s.session), ['alice', 'bob/2:1'])
  const back = await migrate({ from: redis.url, to: last })
  t.deepEqual(back.sessions.map((s) => [s.session, s.written]), there.sessions.map((s) => [s.session, s.keys]))

  const original = await rawContents(first)
  t.true(Object.keys(original).length > 60)
  t.deepEqual(await rawContents(redis.url), original)
  t.deepEqual(await rawContents(last), original)

  // Migrating again changes nothing and still verifies.
  const again = await migrate({ from: first, to: last, session: 'alice' })
  t.is(again.sessions[0].written, 0)
})

test('an interrupted import resumes where it stopped, and the session is unusable until it is complete', async (t) => {
  const dir = tempDir()
  await makeBaileysFolders(t, dir, { extraPreKeys: 1500 })
  const folder = join(dir, 'alice')
  const total = readdirSync(folder).length - 1
  const { url } = tempDb()
  const store = await openStore(url)

  let batches = 0
  const stop = new Error('interrupted')
  const interrupted = importFolder(folder, {
    session: 'alice',
    store,
    batchSize: 100,
    onProgress: ({ phase }) => {
      if (phase === 'copy' && ++batches === 6) throw stop
    },
  })
  t.is(await t.throwsAsync(interrupted), stop)
  t.is(await store.getCreds('alice'), null, 'no creds until every key is in')
  t.is((await store.listKeys('alice')).length, 600)

  const phases = []
  const resumed = await importFolder(folder, { session: 'alice', store, batchSize: 100, onProgress: (e) => phases.push(e) })
  t.is(resumed.unchanged, 600)
  t.is(resumed.written, total - 600)
  t.is(resumed.keys, total)
  t.deepEqual(phases.at(-1), { phase: 'verify', session: 'alice', done: total, total })
  t.truthy(await store.getCreds('alice'))

  // Once complete, importing again only verifies: every key is already there.
  const again = await importFolder(folder, { session: 'alice', store })
  t.is(again.written, 0)
  t.is(again.unchanged, total)
  t.is(again.keys, total)
  await store.close()
})

test('files that cannot be imported are reported by name, and everything else is imported', async (t) => {
  const dir = tempDir()
  await makeBaileysFolders(t, dir)
  const folder = join(dir, 'alice')
  writeFileSync(join(folder, 'notes.txt'), 'hello')
  writeFileSync(join(folder, 'session-99999_1.0.json'), '{"_sessions": {"trunc')
  writeFileSync(join(folder, 'pre-key-424242.json'), '')
  writeFileSync(join(folder, 'brand-new-type-x.json'), '{}')
  mkdirSync(join(folder, 'backup'))
  const before = folderDigest(folder)

  const store = await openStore(tempDb().url)
  const result = await importFolder(folder, { session: 'alice', store })
  t.deepEqual(
    result.problems.map((p) => p.file).sort(),
    ['backup', 'brand-new-type-x.json', 'notes.txt', 'pre-key-424242.json', 'session-99999_1.0.json'],
  )
  t.regex(result.problems.find((p) => p.file === 'session-99999_1.0.json').reason, /not valid JSON/)
  t.regex(result.problems.find((p) => p.file === 'pre-key-424242.json').reason, /empty/)
  t.is(result.keys, readdirSync(folder).length - 1 - 5)
  t.is(folderDigest(folder), before)

  // A newer key type can be named, and is then imported with its ids as they are.
  const withType = await importFolder(folder, { session: 'alice-2', store, types: ['brand-new-type'] })
  t.false(withType.problems.some((p) => p.file === 'brand-new-type-x.json'))
  t.deepEqual(await store.getKeys('alice-2', 'brand-new-type', ['x']), { x: {} })
  await store.close()
})

test('an import never replaces a session with other creds unless told to, and catches a session changed since', async (t) => {
  const dir = tempDir()
  await makeBaileysFolders(t, dir)
  const store = await openStore(tempDb().url)
  await importFolder(join(dir, 'alice'), { session: 'main', store })

  const refused = await t.throwsAsync(importFolder(join(dir, 'bob'), { session: 'main', store }), { code: 'ERR_INVALID_ARG' })
  t.regex(refused.message, /already exists in the target with other creds/)

  // The app used the imported session; importing the old folder again must not roll it back.
  await store.setKeys('main', { session: { 'new-peer.0': { _sessions: {}, version: 'v1' } } })
  const changed = await t.throwsAsync(importFolder(join(dir, 'alice'), { session: 'main', store }), { code: 'ERR_VERIFY_FAILED' })
  t.regex(changed.message, /session "new-peer\.0" is not in the source.*changed since/)
  t.truthy((await store.getKeys('main', 'session', ['new-peer.0']))['new-peer.0'], 'nothing was rolled back')

  const replaced = await importFolder(join(dir, 'bob'), { session: 'main', store, overwrite: true })
  t.is(replaced.written, readdirSync(join(dir, 'bob')).length - 1)
  t.is((await store.listKeys('main')).length, replaced.written)
  t.is((await store.getKeys('main', 'session', ['new-peer.0']))['new-peer.0'], null, 'replaced: nothing of the old session is left')
  t.deepEqual((await store.getCreds('main')).me, JSON.parse(readFileSync(join(dir, 'bob', 'creds.json'), 'utf8')).me)
  await store.close()
})

test('import and export refuse what they cannot do, with clear errors', async (t) => {
  const dir = tempDir()
  const store = await openStore(tempDb().url)
  await t.throwsAsync(importFolder(join(dir, 'missing'), { session: 's', store }), { code: 'ERR_INVALID_ARG', message: /does not exist/ })
  mkdirSync(join(dir, 'empty'))
  await t.throwsAsync(importFolder(join(dir, 'empty'), { session: 's', store }), { code: 'ERR_INVALID_ARG', message: /no creds\.json/ })
  mkdirSync(join(dir, 'torn'))
  writeFileSync(join(dir, 'torn', 'creds.json'), '')
  await t.throwsAsync(importFolder(join(dir, 'torn'), { session: 's', store }), { code: 'ERR_STORE_CORRUPT', message: /creds\.json cannot be read: the file is empty/ })
  t.deepEqual(await store.sessions(), [], 'nothing was written')
  await t.throwsAsync(importFolder(join(dir, 'torn'), { store }), { code: 'ERR_INVALID_ARG', message: /sessionId/ })
  await t.throwsAsync(importFolder(join(dir, 'torn'), { session: 's', store, batchSize: 0 }), { code: 'ERR_INVALID_ARG' })
  await t.throwsAsync(importFolder(join(dir, 'torn'), { session: 's', store, sesion: 'typo' }), { code: 'ERR_INVALID_ARG', message: /unknown option "sesion"/ })

  await t.throwsAsync(exportFolder(join(dir, 'out'), { session: 'nobody', store }), { code: 'ERR_INVALID_ARG', message: /no creds/ })
  t.throws(() => statSync(join(dir, 'out')), { code: 'ENOENT' }, 'no folder is left behind')
  await store.setCreds('someone', { me: { id: '1@s.whatsapp.net' } })
  mkdirSync(join(dir, 'full'))
  writeFileSync(join(dir, 'full', 'creds.json'), '{}')
  await t.throwsAsync(exportFolder(join(dir, 'full'), { session: 'someone', store }), { code: 'ERR_INVALID_ARG', message: /not empty/ })
  await t.throwsAsync(migrate({ from: 'sqlite::memory:', to: 'memory:', session: 'nobody' }), { code: 'ERR_INVALID_ARG', message: /no creds in the source/ })
  await t.throwsAsync(migrate({ from: 'bogus://x', to: 'memory:' }), { code: 'ERR_INVALID_ARG' })
  await store.close()
})

test('export refuses ids that Baileys would write to one file', async (t) => {
  const store = await openStore(tempDb().url)
  await store.setCreds('s', { me: { id: '1@s.whatsapp.net' } })
  await store.setKeys('s', { session: { 'a:b': { v: 1 }, 'a-b': { v: 2 } } })
  const dir = tempDir()
  await t.throwsAsync(exportFolder(join(dir, 'out'), { session: 's', store }), { code: 'ERR_INVALID_ARG', message: /both be written to session-a-b\.json/ })
  await store.close()
})

test('file names are un-mangled per key type, as Baileys mangled them', (t) => {
  const cases = [
    ['pre-key', '812'],
    ['session', '88001_1.0'],
    ['session', '15551234567.3'],
    ['sender-key', '120363001@g.us::88001_1::0'],
    ['sender-key', '1555-1600000000@g.us::1555::12'],
    ['sender-key-memory', '1555-1600000000@g.us'],
    ['app-state-sync-key', 'AAAAAP+/AQ=='],
    ['app-state-sync-key', '+/+/'],
    ['app-state-sync-version', 'critical_unblock_low'],
    ['lid-mapping', '15551234567'],
    ['lid-mapping', '88001_reverse'],
    ['device-list', '15551234567'],
    ['tctoken', '__index'],
    ['tctoken', '88001@lid'],
    ['identity-key', '88001_1.0'],
  ]
  for (const [type, id] of cases) {
    const name = folderFormat.fileNameOf(type, id)
    t.deepEqual(folderFormat.keyOfFileName(name), { type, id }, name)
  }
  t.is(folderFormat.fileNameOf('app-state-sync-key', 'ab/c+d'), 'app-state-sync-key-ab__c+d.json')
  t.is(folderFormat.keyOfFileName('creds.json'), null)
  t.is(folderFormat.keyOfFileName('unknown-type-1.json'), null)
  t.is(folderFormat.keyOfFileName('sender-key-broken.json'), null, 'a sender-key name without its separators')
  t.is(folderFormat.keyOfFileName('pre-key-.json'), null)
  t.deepEqual(folderFormat.keyOfFileName('new-type-a-b.json', ['new-type']), { type: 'new-type', id: 'a-b' })
})

test('Buffers of every Baileys version are revived', (t) => {
  const parse = (text) => JSON.parse(text, folderFormat.reviveBuffers)
  const bytes = Buffer.from([1, 2, 255])
  t.deepEqual(parse('{"type":"Buffer","data":"AQL/"}'), bytes)
  t.deepEqual(parse('{"type":"Buffer","data":[1,2,255]}'), bytes)
  t.deepEqual(parse('{"buffer":true,"value":"AQL/"}'), bytes)
  t.deepEqual(parse('{"0":1,"1":2,"2":255}'), bytes)
  t.deepEqual(parse('{"type":"Buffer","data":[1,2,256]}'), { type: 'Buffer', data: [1, 2, 256] }, 'not bytes: left as it is')
  t.deepEqual(parse('{"jid@s.whatsapp.net":true}'), { 'jid@s.whatsapp.net': true })
  t.is(JSON.stringify({ k: bytes }, folderFormat.replaceBuffers), '{"k":{"type":"Buffer","data":"AQL/"}}')
})
