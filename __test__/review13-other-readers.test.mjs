// Review of issue 13's group commit seen from another process: while one process commits
// groups of batches (some of them fenced and rolled back to their savepoint), Python's sqlite3
// reading the same file never sees half a batch, nor any row of a refused one.
import test from 'ava'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { openStore } from '../index.mjs'
import { tempDir } from './helpers/temp.mjs'

const WRITER = fileURLToPath(new URL('./fixtures/review13-fenced-group-writer.mjs', import.meta.url))
const READER = fileURLToPath(new URL('./fixtures/review13-torn-reader.py', import.meta.url))

const run = (cmd, args) =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${cmd} exited ${code}: ${out}`))))
  })

test('another process reading while groups with fenced batches commit never sees a torn or a refused batch', async (t) => {
  const db = join(tempDir(), 'auth.db')
  await (await openStore(`sqlite:${db}`)).close()
  const [written, read] = await Promise.all([run(process.execPath, [WRITER, db, '5000']), run('python3', [READER, db, '6'])])
  t.log(written, read)
  const { ok, bad, groups } = JSON.parse(written)
  t.true(ok > 0 && bad > 0)
  t.true(groups.writes > groups.groups, 'writes shared commits')
  t.regex(read, /problems 0$/)
  t.notRegex(read, /^checks 0 /)
})
