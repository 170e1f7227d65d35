// Using the CLI wrongly: a typo gets a suggestion, and each command offers (and accepts) only
// the options that do something for it.
import test from 'ava'

import { cli } from './helpers/cli.mjs'
import { tempDb } from './helpers/temp.mjs'

/** The long options a command's --help lists. */
async function optionsListed(command) {
  const { stdout } = await cli([command, '--help'])
  return [...stdout.matchAll(/^ {2}(?:-\w, )?--([\w-]+)/gm)].map((m) => m[1])
}

test('a mistyped command gets a "did you mean" with the command meant', async (t) => {
  for (const [typo, meant] of [['sesions', 'sessions'], ['exprot', 'export'], ['stat', 'stats'], ['delete', 'delete-session']]) {
    const run = await cli([typo])
    t.is(run.code, 2)
    t.regex(run.stderr, new RegExp(`^error: unknown command "${typo}": did you mean "${meant}"\\?\\n`), typo)
  }
  t.regex((await cli(['frobnicate'])).stderr, /^error: unknown command "frobnicate"\n/, 'no guess when nothing is close')
})

test('a mistyped option gets a "did you mean" with the option meant', async (t) => {
  const { url } = tempDb()
  const cases = [
    [['import', 'folder', '--sesion', 's'], '--sesion', '--session'],
    [['sessions', '--stor', url], '--stor', '--store'],
    [['migrate', '--form', url, '--to', 'memory:'], '--form', '--from'],
    [['stats', '--jsno', '--store', url], '--jsno', '--json'],
  ]
  for (const [args, typo, meant] of cases) {
    const run = await cli(args)
    t.is(run.code, 2)
    t.regex(run.stderr, new RegExp(`^error: unknown option '${typo}': did you mean '${meant}'\\?\\n`), args.join(' '))
  }
})

test('an option of other commands is refused with the commands that have it', async (t) => {
  const run = await cli(['sessions', '--session', 's'])
  t.is(run.code, 2)
  t.regex(run.stderr, /^error: unknown option '--session': '--session' is an option of import, export, migrate, not of sessions\n/)
})

test('each command lists and accepts only the options that do something for it', async (t) => {
  const progress = ['import', 'export', 'migrate']
  const redis = ['sessions', 'stats', 'import', 'export', 'migrate', 'delete-session']
  // The commands that write or copy a session take a lease on it; the others only read.
  const owning = ['import', 'export', 'migrate', 'delete-session']
  for (const command of ['sessions', 'stats', 'import', 'export', 'migrate', 'backup', 'delete-session']) {
    const listed = await optionsListed(command)
    t.is(listed.includes('takeover'), owning.includes(command), `${command}: --takeover only where a session is owned for the work`)
    t.is(listed.includes('quiet'), progress.includes(command), `${command}: --quiet only where there is progress output`)
    t.is(listed.includes('key-prefix'), redis.includes(command), `${command}: --key-prefix only where a Redis store can be named`)
    t.true(listed.includes('json') && listed.includes('help'), `${command}: --json and --help everywhere`)
  }
  const refused = await cli(['backup', 'x.db', '--key-prefix', 'p'])
  t.is(refused.code, 2)
  t.regex(refused.stderr, /unknown option '--key-prefix'/)
  t.is((await cli(['sessions', '--quiet', '--store', tempDb().url])).code, 2)
  const reader = await cli(['stats', '--takeover', '--store', tempDb().url])
  t.is(reader.code, 2, 'stats takes no lease, so it has nothing to take over')
  t.regex(reader.stderr, /unknown option '--takeover': '--takeover' is an option of import, export, migrate, delete-session, not of stats/)
})
