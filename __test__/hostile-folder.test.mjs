// A folder is input from outside: an import must stay within bounded memory whatever it holds.
// Each import runs in a child process, whose peak memory is its own.
import test from 'ava'
import { execFile } from 'node:child_process'
import { readdirSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { makeBaileysFolders } from './helpers/baileys-folders.mjs'
import { tempDb, tempDir } from './helpers/temp.mjs'

const IMPORT = fileURLToPath(new URL('./helpers/import-measured.mjs', import.meta.url))
const MiB = 1024 * 1024

/** Imports `folder` as session `s` in a child process (with `nodeArgs`): its JSON report. */
function importInChild(folder, nodeArgs = []) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...nodeArgs, IMPORT, folder, tempDb().url], { maxBuffer: 16 * MiB }, (err, stdout, stderr) => {
      if (err) reject(new Error(`the import process failed (${err.code ?? err.signal}): ${stderr.slice(-2000)}`))
      else resolve(JSON.parse(stdout))
    })
  })
}

/** A file of `bytes` bytes that takes no disk space: all zeros, never written. */
function sparseFile(file, bytes) {
  writeFileSync(file, '')
  truncateSync(file, bytes)
}

test('an import of a folder with huge sparse key files lists them as too large, imports the rest, and stays under 300 MB', async (t) => {
  const dir = tempDir()
  await makeBaileysFolders(t, dir)
  const folder = join(dir, 'alice')
  const realKeys = readdirSync(folder).length - 1
  const huge = ['session-x.json', 'pre-key-999999.json', 'sender-key-memory-y@g.us.json']
  for (const name of huge) sparseFile(join(folder, name), 300 * MiB)

  const { result, error, maxRssBytes } = await importInChild(folder)
  t.is(error, undefined)
  t.deepEqual(result.problems.map((p) => p.file).sort(), [...huge].sort())
  for (const { reason } of result.problems) t.is(reason, 'the file is 300 MiB, more than the 16 MiB a file may have')
  t.like(result, { keys: realKeys, written: realKeys })
  t.true(maxRssBytes < 300 * MiB, `peak memory ${(maxRssBytes / MiB).toFixed(0)} MiB`)
})

test('a creds.json over the size cap fails the import with ERR_STORE_CORRUPT, without being read', async (t) => {
  const folder = tempDir()
  sparseFile(join(folder, 'creds.json'), 300 * MiB)
  writeFileSync(join(folder, 'pre-key-1.json'), '{"public":"x"}')

  const { error, maxRssBytes } = await importInChild(folder)
  t.is(error.code, 'ERR_STORE_CORRUPT')
  t.regex(error.message, /creds\.json cannot be read: the file is 300 MiB, more than the 16 MiB a file may have/)
  t.true(maxRssBytes < 300 * MiB, `peak memory ${(maxRssBytes / MiB).toFixed(0)} MiB`)
})

test('many large key files are imported a few at a time: the import completes within a 128 MB heap', async (t) => {
  // 24 files of 8 MiB: more than any real key, less than the cap. Read all at once, their
  // text alone (twice: as read, and as parsed) would need three times the heap allowed.
  const folder = tempDir()
  writeFileSync(join(folder, 'creds.json'), JSON.stringify({ me: { id: '1@s.whatsapp.net' } }))
  const value = JSON.stringify({ version: 1, hash: 'x'.repeat(8 * MiB) })
  for (let i = 0; i < 24; i++) writeFileSync(join(folder, `app-state-sync-version-v${i}.json`), value)

  const { result, error } = await importInChild(folder, ['--max-old-space-size=128'])
  t.is(error, undefined)
  t.like(result, { keys: 24, written: 24, problems: [] })
})
