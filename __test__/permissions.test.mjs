// What a user is told when the file system's permissions stand in the way: the error names the
// file or folder and the reason, instead of SQLite's "unable to open database file".
import test from 'ava'
import { execFile } from 'node:child_process'
import { chmodSync, chownSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { openStore } from '../index.mjs'
import { tempDir } from './helpers/temp.mjs'

const OPENER = fileURLToPath(new URL('./fixtures/open-as-unprivileged.mjs', import.meta.url))
const root = process.getuid?.() === 0

/** Opens `url` as an unprivileged user (see the fixture); resolves to what it printed. */
function openAsUnprivileged(url) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [OPENER, url], (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`))
      resolve(JSON.parse(stdout))
    })
  })
}

/** A store with one session, in a new folder that the unprivileged user may enter. */
async function storeWithSession() {
  const dir = tempDir()
  chmodSync(dir, 0o755)
  const path = join(dir, 'auth.db')
  const store = await openStore(`sqlite:${path}`)
  await store.setCreds('bot', { registrationId: 1 })
  await store.close()
  return { dir, path }
}

test('a database this user may not read says permission denied, with the path', async (t) => {
  if (process.platform === 'win32') return t.pass()
  const { path } = await storeWithSession()
  // Root's file (0600) as seen by nobody; as another user, a file of one's own without rights.
  if (!root) chmodSync(path, 0o000)
  const result = await openAsUnprivileged(`sqlite:${path}`)
  t.is(result.code, 'ERR_STORE_IO')
  t.regex(result.message, /permission denied/)
  t.true(result.message.includes(path), result.message)
  t.notRegex(result.message, /unable to open database file/)
})

test('a readable database in a read-only folder says that SQLite needs a writable folder', async (t) => {
  if (process.platform === 'win32') return t.pass()
  const { dir, path } = await storeWithSession()
  if (root) {
    chownSync(path, 65534, 65534) // the file is the user's own; the folder stays root's
  } else {
    chmodSync(dir, 0o555)
    t.teardown(() => chmodSync(dir, 0o755))
  }
  const result = await openAsUnprivileged(`sqlite:${path}`)
  t.is(result.code, 'ERR_STORE_IO')
  t.regex(result.message, /folder .* is not writable/)
  t.regex(result.message, /auth\.db-wal and auth\.db-shm/)
  t.notRegex(result.message, /readonly database/)
})

test('a new database in a read-only folder says the folder is not writable', async (t) => {
  if (process.platform === 'win32') return t.pass()
  const dir = tempDir()
  chmodSync(dir, root ? 0o755 : 0o555)
  if (!root) t.teardown(() => chmodSync(dir, 0o755))
  const result = await openAsUnprivileged(`sqlite:${join(dir, 'new.db')}`)
  t.is(result.code, 'ERR_STORE_IO')
  t.regex(result.message, /cannot create .*new\.db: the folder .* is not writable/)
})
