// Review 14b: the SQL name limits (session id and key type 255 bytes, key id 1,024 bytes, UTF-8)
// through `migrate` and the CLI: a SQLite store holding names too long for PostgreSQL and
// MySQL, copied into them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import test from 'ava'

import { migrate, openStore } from '../index.mjs'
import { cli } from './helpers/cli.mjs'
import { dropAll, myStore, pgStore } from './helpers/review14.mjs'
import { mysqlAvailable, postgresAvailable } from './helpers/sql-servers.mjs'

test.after.always(dropAll)

const servers = [
  { name: 'postgres', available: postgresAvailable, make: () => pgStore().url, label: 'PostgreSQL' },
  { name: 'mysql', available: mysqlAvailable, make: () => myStore().url, label: 'MySQL' },
]

const LONG_ID = 'x'.repeat(2000)
const SECRET = 'VALUE_SECRET_DO_NOT_SHOW'
const BAD = {
  longid: { types: { 'pre-key': { [LONG_ID]: { secret: SECRET } } }, code: 'ERR_INVALID_ARG', what: 'key id' },
  longtype: { types: { ['t'.repeat(300)]: { a: SECRET } }, code: 'ERR_INVALID_ARG', what: 'key type' },
  multibyte: { types: { t: { ['é'.repeat(513)]: { a: SECRET } } }, code: 'ERR_INVALID_ARG', what: 'key id' },
}
const LONG_SESSION = 's'.repeat(300)

/** A SQLite store with a good session, one per bad name, and a session id of 300 bytes. */
async function source(t, { manyKeys = 0 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'rv14b-names-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const url = `sqlite:${join(dir, 'src.db')}`
  const src = await openStore(url)
  await src.setCreds('good', { me: 'good' })
  await src.setKeys('good', { t: { a: { v: 1 } } })
  for (const [session, { types }] of Object.entries(BAD)) {
    await src.setCreds(session, { me: session })
    if (manyKeys > 0) await src.setKeys(session, { 'pre-key': Object.fromEntries(Array.from({ length: manyKeys }, (_, i) => [`k${i}`, { v: i }])) })
    await src.setKeys(session, types)
  }
  await src.setCreds(LONG_SESSION, { me: 'long' })
  await src.setKeys(LONG_SESSION, { t: { a: 1 } })
  await src.close()
  return url
}

for (const server of servers) {
  // Holds: each session with a name over the limit is refused ERR_INVALID_ARG, its message says
  // which limit (not the name or the value), the migration of all sessions rejects (not a
  // success) listing each, and the good session is copied.
  test(`${server.name}: migrate refuses names over the limits with ERR_INVALID_ARG, never showing the name's value`, async (t) => {
    if (!server.available()) return t.pass()
    const from = await source(t)
    const to = server.make()
    for (const [session, { code, what }] of Object.entries(BAD)) {
      const err = await t.throwsAsync(migrate({ from, to, session }), undefined, session)
      t.is(err.code, code, session)
      t.true(err.message.includes(what), `${session}: ${err.message}`)
      t.false(err.message.includes(SECRET) || err.message.includes('x'.repeat(50)) || err.message.includes('é'.repeat(50)), err.message)
    }
    const long = await t.throwsAsync(migrate({ from, to, session: LONG_SESSION }))
    t.is(long.code, 'ERR_INVALID_ARG')
    t.false(long.message.includes('s'.repeat(50)), long.message)
    const all = await t.throwsAsync(migrate({ from, to }))
    t.is(all.code, 'ERR_INVALID_ARG')
    t.is(all.failures.length, 4)
    const target = await openStore(to)
    t.teardown(() => target.close())
    t.deepEqual(await target.getCreds('good'), { me: 'good' })
    for (const session of [...Object.keys(BAD), LONG_SESSION]) t.is(await target.getCreds(session), null, session)
  })

  // FINDING (both servers, low): the message says which limit was hit but not which key: "a key
  // id is at most 1024 bytes (UTF-8) in a PostgreSQL store; this one has 2000". Neither its type
  // nor a prefix of the id is named, so an operator migrating a session of thousands of keys
  // cannot find the one to fix. Expected: the key's type (and a short prefix of its id, or its
  // position) in the message, still without the value.
  test(`${server.name}: migrate's refusal of a long key id names the key's type`, async (t) => {
    if (!server.available()) return t.fail('no server')
    const from = await source(t)
    const err = await t.throwsAsync(migrate({ from, to: server.make(), session: 'longid' }))
    t.log(err.message)
    t.true(err.message.includes('pre-key'), err.message)
  })

  // FINDING (both servers, medium): a session refused for a name limit is left half-copied in the
  // target. migrate writes a session in batches of 500 keys and checks each batch's names only
  // as it writes it, so the batches before the one holding the long id commit: the target then
  // has thousands of that session's keys and no creds. Re-running never finishes it (the name
  // is still too long), and a later migration of all sessions skips it as "keys but no creds"
  // (exit 3). The names are known before anything is written: the session could be refused
  // whole. Expected: nothing of a refused session in the target.
  test(`${server.name}: a session migrate refuses for a long key id leaves none of its keys in the target`, async (t) => {
    if (!server.available()) return t.fail('no server')
    const from = await source(t, { manyKeys: 1500 })
    const to = server.make()
    const err = await t.throwsAsync(migrate({ from, to, session: 'longid' }))
    t.is(err.code, 'ERR_INVALID_ARG')
    const target = await openStore(to)
    t.teardown(() => target.close())
    const left = await target.listKeys('longid')
    t.log(`${left.length} keys of the refused session are in the target`)
    t.deepEqual(left, [])
    t.deepEqual(await target.sessions(), [])
  })

  // Holds: the CLI's migrate and import report the refusal (exit code not 0, the code on stderr,
  // never the value), and import of a folder under a 300-byte session id writes nothing.
  test(`${server.name}: the CLI reports migrate and import refusals of long names with their code, and import writes nothing`, async (t) => {
    if (!server.available()) return t.pass()
    const from = await source(t)
    const to = server.make()
    const run = await cli(['migrate', '--from', from, '--to', to, '--session', 'longid', '--quiet'])
    t.not(run.code, 0, run.stdout)
    t.true(run.stderr.includes('ERR_INVALID_ARG'), run.stderr)
    t.false(run.stderr.includes(SECRET) || run.stderr.includes('x'.repeat(50)), run.stderr)

    const folder = mkdtempSync(join(tmpdir(), 'rv14b-folder-'))
    t.teardown(() => rmSync(folder, { recursive: true, force: true }))
    mkdirSync(folder, { recursive: true })
    writeFileSync(join(folder, 'creds.json'), JSON.stringify({ registrationId: 1, me: { id: '1@s.whatsapp.net' } }))
    writeFileSync(join(folder, 'pre-key-1.json'), JSON.stringify({ public: 'AA==', private: 'AA==' }))
    const imp = await cli(['import', folder, '--session', LONG_SESSION, '--to', to, '--quiet'])
    t.not(imp.code, 0, imp.stdout)
    t.true(imp.stderr.includes('ERR_INVALID_ARG'), imp.stderr)
    const target = await openStore(to)
    t.teardown(() => target.close())
    t.deepEqual(await target.sessions(), [])
  })
}
