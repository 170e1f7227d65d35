// The operator CLI, run as a user runs it (`node bin/baileys-rust-auth.js …` is what
// `npx baileys-rust-auth` starts), on temporary stores.
import test from 'ava'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { openStore } from '../index.mjs'
import { makeBaileysFolders } from './helpers/baileys-folders.mjs'
import { CLI, cli } from './helpers/cli.mjs'
import { requireRedis, startRedis, stopAll } from './helpers/redis-server.mjs'
import { mysqlUrl, postgresUrl, requireSqlServers } from './helpers/sql-servers.mjs'
import { tempDb, tempDir } from './helpers/temp.mjs'
import { writeSchemaV1Fixture } from './helpers/schema-v1.mjs'

const DOCS = fileURLToPath(new URL('../docs/cli.md', import.meta.url))
const COMMANDS = ['sessions', 'stats', 'import', 'export', 'migrate', 'backup', 'delete-session', 'encrypt', 'decrypt']

test.after.always(stopAll)

let folders
test.before(async () => {
  const dir = tempDir()
  // The exchange's own assertions, outside a test: a failure throws.
  await makeBaileysFolders({ is: assert.equal, deepEqual: assert.deepEqual }, dir, { extraPreKeys: 1000 })
  folders = { alice: join(dir, 'alice'), bob: join(dir, 'bob') }
})

test('--help of the CLI and of every command is what docs/cli.md shows', async (t) => {
  const docs = readFileSync(DOCS, 'utf8')
  const main = await cli(['--help'])
  t.is(main.code, 0)
  t.true(docs.includes('```text\n$ npx baileys-rust-auth --help\n' + main.stdout + '```'), 'main help is in docs/cli.md')
  for (const command of COMMANDS) {
    const help = await cli([command, '--help'])
    t.is(help.code, 0)
    t.regex(help.stdout, new RegExp(`^Usage: baileys-rust-auth ${command}`))
    t.true(docs.includes('```text\n$ npx baileys-rust-auth ' + command + ' --help\n' + help.stdout + '```'), `${command} --help is in docs/cli.md`)
  }
})

test('import, sessions, stats, export, backup and delete-session work on a SQLite store', async (t) => {
  const { url, path } = tempDb()
  const imported = await cli(['import', folders.alice, '--session', 'alice', '--to', url])
  t.is(imported.code, 0, imported.stderr)
  const keyFiles = readdirSync(folders.alice).length - 1
  t.regex(imported.stdout, new RegExp(`as session alice: ${keyFiles} keys \\(${keyFiles} written, 0 already there\\), verified`))
  t.regex(imported.stderr, new RegExp(`copying alice: ${keyFiles}/${keyFiles} keys`), 'plain progress lines off a terminal')
  t.regex(imported.stderr, /verifying alice: \d+\/\d+ keys/)

  await cli(['import', folders.bob, '--session', 'bob', '--to', url, '--quiet'])
  const sessions = await cli(['sessions', '--store', url])
  t.is(sessions.stdout, 'alice\nbob\n')
  t.deepEqual(JSON.parse((await cli(['sessions', '--store', url, '--json'])).stdout), [
    { session: 'alice', owner: null },
    { session: 'bob', owner: null },
  ])
  t.is((await cli(['sessions'], { env: { BAILEYS_AUTH_STORE: url } })).stdout, 'alice\nbob\n', 'BAILEYS_AUTH_STORE is the default store, as for the library')

  const stats = JSON.parse((await cli(['stats', 'alice', '--store', url, '--json'])).stdout)
  t.is(stats.totalKeys, keyFiles)
  t.true(stats.credsPresent)
  t.true(stats.keys['pre-key'].count >= 1000)
  t.true(Date.now() - Date.parse(stats.lastWriteAt) < 60_000)
  const human = await cli(['stats', 'alice', '--store', url])
  t.regex(human.stdout, /^session {5}alice\ncreds {7}\d/)
  t.regex(human.stdout, /\n {2}pre-key +\d{4} +\d/)
  const all = await cli(['stats', '--store', url])
  t.regex(all.stdout, /^SESSION +KEYS +BYTES +LAST WRITE +OWNER\nalice +\d+ .* -\nbob +\d+ /)

  const dir = tempDir()
  const exported = await cli(['export', join(dir, 'out'), '--session', 'alice', '--from', url, '--json'])
  t.is(exported.code, 0, exported.stderr)
  t.is(JSON.parse(exported.stdout).keys, keyFiles)
  t.deepEqual(readdirSync(join(dir, 'out')).sort(), readdirSync(folders.alice).sort())

  const backup = await cli(['backup', join(dir, 'backup.db'), '--store', url])
  t.is(backup.code, 0, backup.stderr)
  t.is(statSync(join(dir, 'backup.db')).mode & 0o777, 0o600)
  const copy = await openStore(`sqlite:${join(dir, 'backup.db')}`)
  t.deepEqual(await copy.sessions(), ['alice', 'bob'])
  t.deepEqual(await copy.check(), [])
  await copy.close()

  const refused = await cli(['delete-session', 'bob', '--store', url])
  t.is(refused.code, 2)
  t.regex(refused.stderr, /add --yes/)
  const deleted = await cli(['delete-session', 'bob', '--store', url, '--yes'])
  t.is(deleted.code, 0, deleted.stderr)
  t.is((await cli(['sessions', '--store', path])).stdout, 'alice\n', 'a plain path is a SQLite store too')
})

test('migrate copies every session between stores, and a Redis store cannot be backed up', async (t) => {
  requireRedis(t)
  const { url } = tempDb()
  await cli(['import', folders.alice, '--session', 'alice', '--to', url, '--quiet'])
  await cli(['import', folders.bob, '--session', 'bob', '--to', url, '--quiet'])
  const redis = await startRedis({ unixSocket: true })
  const migrated = await cli(['migrate', '--from', url, '--to', redis.url, '--key-prefix', 'wa', '--json', '--quiet'])
  t.is(migrated.code, 0, migrated.stderr)
  t.deepEqual(JSON.parse(migrated.stdout).sessions.map((s) => s.session), ['alice', 'bob'])
  t.is((await cli(['sessions', '--store', redis.url, '--key-prefix', 'wa'])).stdout, 'alice\nbob\n')
  t.is((await cli(['sessions', '--store', redis.url])).stdout, '', 'the prefix was used')

  const backup = await cli(['backup', join(tempDir(), 'x.db'), '--store', redis.url])
  t.is(backup.code, 1)
  t.regex(backup.stderr, /ERR_UNSUPPORTED/)
})

for (const [name, freshUrl] of [['PostgreSQL', postgresUrl], ['MySQL', mysqlUrl]]) {
  test(`import, sessions, stats, export, migrate and delete-session work on a ${name} store, which cannot be backed up`, async (t) => {
    if (!requireSqlServers(t)) return
    const url = freshUrl()
    const imported = await cli(['import', folders.alice, '--session', 'alice', '--to', url, '--quiet'])
    t.is(imported.code, 0, imported.stderr)
    await cli(['import', folders.bob, '--session', 'bob', '--to', url, '--quiet'])
    t.is((await cli(['sessions', '--store', url])).stdout, 'alice\nbob\n')
    const keyFiles = readdirSync(folders.alice).length - 1
    const stats = JSON.parse((await cli(['stats', 'alice', '--store', url, '--json'])).stdout)
    t.is(stats.totalKeys, keyFiles)
    t.true(stats.credsPresent)

    const dir = tempDir()
    const exported = await cli(['export', join(dir, 'out'), '--session', 'alice', '--from', url, '--json'])
    t.is(exported.code, 0, exported.stderr)
    t.deepEqual(readdirSync(join(dir, 'out')).sort(), readdirSync(folders.alice).sort())

    const copy = tempDb()
    const migrated = await cli(['migrate', '--from', url, '--to', copy.url, '--json', '--quiet'])
    t.is(migrated.code, 0, migrated.stderr)
    t.deepEqual(JSON.parse(migrated.stdout).sessions.map((s) => s.session), ['alice', 'bob'])

    const backup = await cli(['backup', join(dir, 'x.db'), '--store', url])
    t.is(backup.code, 1)
    t.regex(backup.stderr, /ERR_UNSUPPORTED/)
    t.is((await cli(['delete-session', 'bob', '--store', url, '--yes'])).code, 0)
    t.is((await cli(['sessions', '--store', url])).stdout, 'alice\n')
  })
}

test('failures exit non-zero with a clear message', async (t) => {
  const { url } = tempDb()
  await (await openStore(url)).close() // an empty store: the commands below only read it
  const dir = tempDir()
  const cases = [
    [['import', join(dir, 'missing'), '--session', 's', '--to', url], 1, /folder .*missing does not exist \(ERR_INVALID_ARG\)/],
    [['import', folders.alice, '--session', 's', '--to', 'bogus://x'], 1, /ERR_INVALID_ARG/],
    [['import', folders.alice, '--to', url], 2, /--session is required/],
    [['import', '--session', 's', '--to', url], 2, /FOLDER is required/],
    [['export', join(dir, 'out'), '--session', 'nobody', '--from', url], 1, /session "nobody" has no creds/],
    [['stats', 'nobody', '--store', url], 1, /no session "nobody"/],
    [['delete-session', 'nobody', '--yes', '--store', url], 1, /no session "nobody"/],
    [['migrate', '--from', url, '--to', 'memory:', '--session', 'nobody'], 1, /no creds in the source/],
    [['migrate', '--from', url], 2, /--to is required/],
    [['frobnicate'], 2, /unknown command "frobnicate"/],
    [['sessions', '--stor', url], 2, /unknown option '--stor'/i],
    [['import', folders.alice, '--session', 's', '--batch-size', 'many'], 2, /--batch-size must be an integer/],
  ]
  for (const [args, code, message] of cases) {
    const run = await cli(args)
    t.is(run.code, code, `${args.join(' ')}: ${run.stderr}`)
    t.regex(run.stderr, message, args.join(' '))
  }
  t.false(existsSync(join(dir, 'out')))
  const json = await cli(['stats', 'nobody', '--store', url, '--json'])
  t.deepEqual(JSON.parse(json.stdout), { error: { code: 'ERR_INVALID_ARG', message: 'the store has no session "nobody"' } })
})

test('an import killed midway resumes when run again', async (t) => {
  const { url } = tempDb()
  const total = readdirSync(folders.alice).length - 1
  const freeze = fileURLToPath(new URL('./fixtures/freeze-after-progress.cjs', import.meta.url))
  const child = spawn(process.execPath, ['-r', freeze, CLI, 'import', folders.alice, '--session', 'alice', '--to', url, '--batch-size', '20'], {
    env: { ...process.env, FREEZE_AT: '200' },
  })
  let stderr = ''
  const killedAt = await new Promise((resolve) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      const done = [...stderr.matchAll(/copying alice: (\d+)\//g)].map((m) => Number(m[1])).at(-1)
      if (done >= 200 && child.exitCode === null && !child.killed) {
        child.kill('SIGKILL')
        resolve(done)
      }
    })
  })
  await new Promise((resolve) => child.on('exit', resolve))
  t.true(killedAt < total, 'killed before the end')

  const resumed = await cli(['import', folders.alice, '--session', 'alice', '--to', url, '--json', '--quiet'])
  t.is(resumed.code, 0, resumed.stderr)
  const result = JSON.parse(resumed.stdout)
  t.true(result.unchanged >= killedAt, `${result.unchanged} keys were already there, at least the ${killedAt} reported`)
  t.is(result.unchanged + result.written, total)
})

test('an import with unreadable files completes the rest and exits 3, naming them', async (t) => {
  const dir = tempDir()
  const { cpSync, writeFileSync } = await import('node:fs')
  cpSync(folders.bob, join(dir, 'bob'), { recursive: true })
  writeFileSync(join(dir, 'bob', 'session-1.0.json'), '{"oops"')
  const run = await cli(['import', join(dir, 'bob'), '--session', 'bob', '--to', tempDb().url, '--quiet'])
  t.is(run.code, 3)
  t.regex(run.stderr, /not imported: session-1\.0\.json: not valid JSON/)
  t.regex(run.stderr, /1 file\(s\) of .* could not be imported/)
  t.regex(run.stdout, /as session bob: \d+ keys/)
})

test('on a terminal, progress is a bar redrawn in place', async (t) => {
  // `script` (util-linux, in every Debian) runs the CLI on a pseudo-terminal.
  const { url } = tempDb()
  const command = [process.execPath, CLI, 'import', folders.alice, '--session', 'alice', '--to', url, '--batch-size', '100']
    .map((arg) => `'${arg.replace(/'/g, "'\\''")}'`)
    .join(' ')
  const output = await new Promise((resolve, reject) => {
    execFile('script', ['-qec', command, '/dev/null'], (err, stdout) => (err ? reject(err) : resolve(stdout)))
  })
  t.regex(output, /\rcopying alice \[#*\.*\] \d+\/\d+/)
  t.regex(output, /\rverifying alice \[#{30}\] (\d+)\/\1/)
  t.notRegex(output, /copying alice: \d+\/\d+ keys/, 'no plain progress lines on a terminal')
  t.regex(output, /verified/)
})

test('read-only commands on a store that does not exist say so, exit non-zero and create nothing', async (t) => {
  const dir = tempDir()
  const cases = [
    ['sessions'],
    ['stats'],
    ['stats', '--store', './nope.db'],
    ['stats', 'some-session', '--store', 'sqlite:nope.db'],
    ['export', join(dir, 'out'), '--session', 's', '--from', './nope.db'],
    ['backup', join(dir, 'copy.db'), '--store', './nope.db'],
    ['delete-session', 's', '--yes', '--store', './nope.db'],
    ['migrate', '--from', './nope.db', '--to', './target.db'],
  ]
  for (const args of cases) {
    const run = await cli(args, { cwd: dir })
    t.is(run.code, 1, `${args.join(' ')}: ${run.stderr}`)
    t.regex(run.stderr, /there is no store at .*: the file does not exist \(ERR_STORE_NOT_FOUND\)/, args.join(' '))
    t.deepEqual(readdirSync(dir), [], `${args.join(' ')} left nothing behind`)
  }
})

test('an unknown URL scheme is an error, not a file name', async (t) => {
  const dir = tempDir()
  const run = await cli(['sessions', '--store', 'sqlite3:typo.db'], { cwd: dir })
  t.is(run.code, 1)
  t.regex(run.stderr, /unknown store URL scheme "sqlite3"/)
  t.deepEqual(readdirSync(dir), [])
})

test('read-only commands never change an existing file: an older schema is not upgraded, an empty file stays empty', async (t) => {
  const dir = tempDir()
  const v1 = join(dir, 'v1.db')
  if (!writeSchemaV1Fixture(t, v1)) return t.pass()
  const before = readFileSync(v1)
  for (const args of [['sessions', '--store', v1], ['stats', '--store', v1], ['backup', join(dir, 'copy.db'), '--store', v1]]) {
    const run = await cli(args)
    t.is(run.code, 1, args.join(' '))
    t.regex(run.stderr, /schema version 1, written by an older version .*\(ERR_STORE_VERSION\)/, args.join(' '))
  }
  t.deepEqual(readFileSync(v1), before, 'an application of the older version can still open it')
  t.false(existsSync(`${v1}-wal`))

  const empty = join(dir, 'empty.db')
  writeFileSync(empty, '')
  const run = await cli(['stats', '--store', empty])
  t.is(run.code, 1)
  t.regex(run.stderr, /the file is empty \(ERR_STORE_NOT_FOUND\)/)
  t.is(readFileSync(empty).length, 0)
})

test('a migration of every session lists the sessions it copied and each one that failed, and exits 1', async (t) => {
  const from = tempDb()
  const to = tempDb()
  const source = await openStore(from.url)
  for (const name of ['a', 'b', 'c']) {
    await source.setKeys(name, { session: { k: 1 } })
    await source.setCreds(name, { registrationId: 1 })
  }
  await source.close()
  const target = await openStore(to.url)
  await target.setCreds('b', { registrationId: 2 })
  await target.close()
  const run = await cli(['migrate', '--from', from.url, '--to', to.url])
  t.is(run.code, 1)
  t.regex(run.stderr, /^migrated a: /m)
  t.regex(run.stderr, /^migrated c: /m)
  t.regex(run.stderr, /^failed b: session "b" already exists in the target with other creds.* \(ERR_INVALID_ARG\)$/m)
  t.regex(run.stderr, /error: 1 of 3 sessions could not be migrated/)
})
