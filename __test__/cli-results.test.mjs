// What the CLI says about a copy: every number it prints is true, everything left out is
// listed, and whatever went wrong is listed in full with a non-zero exit code.
import test from 'ava'

import { openStore } from '../index.mjs'
import { cli } from './helpers/cli.mjs'
import { holdingProxy } from './helpers/holding-proxy.mjs'
import { redisCommand, requireRedis, startRedis, stopAll } from './helpers/redis-server.mjs'
import { tempDb } from './helpers/temp.mjs'
import { CREDS, folderWith } from './helpers/folder-with.mjs'

test.after.always(stopAll)

function preKeyFiles(count) {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`pre-key-${i + 1}.json`, { public: `key ${i + 1}` }]))
}

/** Writes session `s` (creds and `keys`) into the store at `url`. */
async function storeSession(url, keys, creds = CREDS) {
  const store = await openStore(url)
  await store.setKeys('s', keys)
  if (creds) await store.setCreds('s', creds)
  await store.close()
}

test('an import run again on a finished session says that every key is already there', async (t) => {
  const folder = folderWith(preKeyFiles(5))
  const { url } = tempDb()
  await cli(['import', folder, '--session', 's', '--to', url, '--quiet'])
  const again = await cli(['import', folder, '--session', 's', '--to', url, '--quiet'])
  t.is(again.code, 0, again.stderr)
  t.regex(again.stdout, /as session s: 5 keys \(0 written, 5 already there\), verified\n$/)
})

test('the summary of an import of a folder with an unreadable file counts the keys the session holds', async (t) => {
  const folder = folderWith({ ...preKeyFiles(2), 'pre-key-3.json': '{"torn' })
  const { url } = tempDb()
  // An interrupted import wrote pre-key 3 while its file was whole.
  await storeSession(url, { 'pre-key': { 3: { public: 'key 3' } } }, null)

  const run = await cli(['import', folder, '--session', 's', '--to', url, '--quiet'])
  t.is(run.code, 3)
  t.regex(run.stdout, /as session s: 2 keys \(2 written, 0 already there, 1 removed\), verified\n$/)
  t.regex(run.stderr, /^not imported: pre-key-3\.json: not valid JSON/m)
  const stats = JSON.parse((await cli(['stats', 's', '--store', url, '--json'])).stdout)
  t.is(stats.totalKeys, 2, 'the session holds the keys the summary counts')
})

test('a migration run again counts every key of each session as already there', async (t) => {
  const from = tempDb().url
  const to = tempDb().url
  await storeSession(from, { 'pre-key': { 1: { public: 'a' }, 2: { public: 'b' } } })
  await cli(['migrate', '--from', from, '--to', to, '--quiet'])
  const again = await cli(['migrate', '--from', from, '--to', to, '--quiet'])
  t.is(again.code, 0, again.stderr)
  t.is(
    again.stdout,
    `session s: 2 keys (0 written, 2 already there), verified\nmigrated 1 session(s) from ${from} to ${to}: 2 keys (0 written, 2 already there), verified\n`,
  )
})

test('a migration of all sessions that leaves one out names it and exits 3', async (t) => {
  const from = tempDb().url
  await storeSession(from, { 'pre-key': { 1: { public: 'a' } } }, null)
  const run = await cli(['migrate', '--from', from, '--to', tempDb().url, '--quiet'])
  t.is(run.code, 3)
  t.regex(run.stderr, /^skipped s: it has keys but no creds$/m)
  t.regex(run.stderr, /^1 session\(s\) were left out \(listed above\)$/m)
})

test('a failed verification prints every mismatch, not only the first ones, and exits 1', async (t) => {
  const folder = folderWith(preKeyFiles(2))
  const { url } = tempDb()
  await cli(['import', folder, '--session', 's', '--to', url, '--quiet'])
  // The application used the session since: 15 keys the folder does not have.
  const added = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`peer-${i}.0`, { v: i }]))
  await storeSession(url, { session: added })

  const run = await cli(['import', folder, '--session', 's', '--to', url, '--quiet', '--json'])
  t.is(run.code, 1)
  const expected = Object.keys(added).sort().map((id) => `session ${JSON.stringify(id)} is not in the source`)
  const printed = [...run.stderr.matchAll(/^mismatch: (.*)$/gm)].map((m) => m[1])
  t.deepEqual(printed, expected)
  t.regex(run.stderr, /^error: verification of session "s" failed: .* \(ERR_VERIFY_FAILED\)$/m)
  t.deepEqual(JSON.parse(run.stdout).error.mismatches, expected)
})

test('a migration whose source loses keys during the copy exits 1 and lists each lost key', async (t) => {
  if (!requireRedis(t)) return
  const redis = await startRedis()
  const preKeys = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [String(100 + i), { public: `key ${i}` }]))
  await storeSession(redis.url, { 'pre-key': preKeys })
  // The application deletes two keys while the CLI reads its first batch (100 to 109).
  const proxy = await holdingProxy(redis.port, 'HMGET', () => redisCommand(redis, 'HDEL', 'baileys:{s}:keys:pre-key', '115', '125'))
  t.teardown(() => proxy.close())

  const run = await cli(['migrate', '--from', `redis://127.0.0.1:${proxy.port}`, '--to', tempDb().url, '--session', 's', '--batch-size', '10', '--quiet'])
  await proxy.held
  t.is(run.code, 1, run.stderr)
  t.deepEqual(
    [...run.stderr.matchAll(/^mismatch: (.*)$/gm)].map((m) => m[1]),
    ['pre-key "115" disappeared from the source during the copy', 'pre-key "125" disappeared from the source during the copy'],
  )
  t.regex(run.stderr, /ERR_VERIFY_FAILED/)
})
