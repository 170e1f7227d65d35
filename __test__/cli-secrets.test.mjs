// Store URLs can carry passwords: nothing the CLI prints, on success or failure, shows one.
import test from 'ava'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

import { cli } from './helpers/cli.mjs'
import { requireRedis, startRedis, stopAll } from './helpers/redis-server.mjs'
import { tempDb, tempDir } from './helpers/temp.mjs'

const { redactUrl, redactText } = createRequire(import.meta.url)('../lib/redact.js')

test.after.always(stopAll)

const SECRET = 's3cret-pass'
/** A server whose user `user` needs SECRET; the default user stays open for the helpers. */
const ACL = ['--user', 'user', 'on', `>${SECRET}`, '~*', '&*', '+@all', '--user', 'default', 'on', 'nopass', '~*', '&*', '+@all']

function folderWith(keys) {
  const folder = join(tempDir(), 'auth')
  mkdirSync(folder)
  writeFileSync(join(folder, 'creds.json'), JSON.stringify({ me: { id: '1@s.whatsapp.net' } }))
  for (let i = 0; i < keys; i++) writeFileSync(join(folder, `pre-key-${i}.json`), JSON.stringify({ public: `key ${i}` }))
  return folder
}

function assertNoSecret(t, run, what) {
  t.false(run.stdout.includes(SECRET), `${what}: stdout shows the password`)
  t.false(run.stderr.includes(SECRET), `${what}: stderr shows the password`)
}

test('redactUrl hides the password of every kind of store URL and leaves the rest alone', (t) => {
  const cases = [
    ['redis://user:pw@10.0.0.5:6379/2', 'redis://user:***@10.0.0.5:6379/2'],
    ['rediss://:pw@host:6380', 'rediss://:***@host:6380'],
    ['redis://user:p/w?x#y@host:1/0', 'redis://user:***@host:1/0'],
    ['redis+cluster://user:pw@h1:7000,h2:7001', 'redis+cluster://user:***@h1:7000,h2:7001'],
    ['redis+unix:///run/r.sock?db=1&user=u&pass=pw', 'redis+unix:///run/r.sock?db=1&user=u&pass=***'],
    ['redis://host:1/0?password=pw&x=1', 'redis://host:1/0?password=***&x=1'],
    ['REDIS://USER:PW@HOST:1', 'REDIS://USER:***@HOST:1'],
  ]
  for (const [url, redacted] of cases) t.is(redactUrl(url), redacted, url)
  const untouched = ['redis://user@host:1', 'redis://host:6379', 'sqlite:/tmp/a:b@c.db', 'sqlite:///a:b@c.db', './a:b@c.db', 'sqlite::memory:', 'memory:']
  for (const url of untouched) t.is(redactUrl(url), url, url)
})

test('redactText hides passwords of the URLs a message quotes', (t) => {
  t.is(redactText('store URL "redis+cluster://u:pw@" names no cluster node'), 'store URL "redis+cluster://u:***@" names no cluster node')
  t.is(redactText('cannot reach redis://u:pass word@h:1 now', ['redis://u:pass word@h:1']), 'cannot reach redis://u:***@h:1 now')
  t.is(redactText('nothing to hide in sqlite:/tmp/a.db'), 'nothing to hide in sqlite:/tmp/a.db')
})

test('CLI commands that succeed on a password-protected Redis never print its password', async (t) => {
  if (!requireRedis(t)) return
  const redis = await startRedis({ extraArgs: ACL })
  const url = `redis://user:${SECRET}@127.0.0.1:${redis.port}`
  const shown = `redis://user:***@127.0.0.1:${redis.port}`
  const sqlite = tempDb().url
  const runs = [
    [['import', folderWith(3), '--session', 's', '--to', url], shown],
    [['import', folderWith(3), '--session', 's', '--to', url, '--json'], null],
    [['sessions', '--store', url], null],
    [['sessions'], null, { BAILEYS_AUTH_STORE: url }],
    [['stats', 's', '--store', url], null],
    [['stats', '--store', url, '--json'], null],
    [['export', join(tempDir(), 'out'), '--session', 's', '--from', url], shown],
    [['export', join(tempDir(), 'out'), '--session', 's', '--from', url, '--json'], null],
    [['migrate', '--from', url, '--to', sqlite], shown],
    [['migrate', '--from', sqlite, '--to', url, '--key-prefix', 'copy', '--json'], null],
    [['delete-session', 's', '--yes', '--store', url], shown],
  ]
  for (const [args, mustShow, env] of runs) {
    const what = args.slice(0, 2).join(' ')
    const run = await cli(args, { env })
    t.is(run.code, 0, `${what}: ${run.stderr.replaceAll(SECRET, '***')}`)
    assertNoSecret(t, run, what)
    if (mustShow) t.true(run.stdout.includes(shown), `${what} names the store, redacted: ${run.stdout.replaceAll(SECRET, '***')}`)
  }
})

test('CLI commands that fail on a Redis URL never print its password', async (t) => {
  if (!requireRedis(t)) return
  const redis = await startRedis({ extraArgs: ACL })
  const url = `redis://user:${SECRET}@127.0.0.1:${redis.port}`
  const runs = [
    ['sessions', '--store', `redis://user:${SECRET}-not@127.0.0.1:${redis.port}`],
    ['sessions', '--store', `redis://user:${SECRET}@127.0.0.1:1`],
    ['sessions', '--store', `${url}/99`],
    ['sessions', '--store', `redis+cluster://user:${SECRET}@`],
    ['stats', 'nobody', '--store', url, '--json'],
    ['backup', join(tempDir(), 'x.db'), '--store', url],
    ['migrate', '--from', url, '--to', url],
    ['import', folderWith(1), '--session', 's', '--to', `rediss+typo://user:${SECRET}@host:1`],
  ]
  for (const args of runs) {
    const run = await cli(args)
    t.is(run.code, 1, `${args.join(' ').replaceAll(SECRET, '***')}: ${run.stderr.replaceAll(SECRET, '***')}`)
    t.regex(run.stderr, /^error: .* \(ERR_[A-Z_]+\)$/m)
    assertNoSecret(t, run, args[0])
  }
})
