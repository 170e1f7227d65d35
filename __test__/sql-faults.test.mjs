// A PostgreSQL or MariaDB server that dies under a running Baileys session, seen from the public
// API: calls reject ERR_STORE_UNAVAILABLE within commandTimeoutMs, nothing hangs, no promise is
// left unhandled, and once the server is back the same store and the same owned session go on
// with every acknowledged write. (tests/postgres.rs and tests/mysql.rs kill servers under the
// Rust stores directly.)
import test from 'ava'

import { ErrorCodes, openStore, useRustAuthState } from '../index.mjs'
import { privateMariadbAvailable, startPrivateMariadb } from './helpers/private-mariadb.mjs'
import { privatePostgresAvailable, startPrivatePostgres } from './helpers/private-postgres.mjs'
import { until } from './helpers/until.mjs'

const baileys = await import('baileys')

const unhandled = []
process.on('unhandledRejection', (reason) => unhandled.push(reason))

const preKey = (n) => ({ public: Buffer.alloc(32, n), private: Buffer.alloc(32, n + 1) })

const SERVERS = [
  { name: 'PostgreSQL', available: privatePostgresAvailable, start: startPrivatePostgres },
  { name: 'MariaDB', available: privateMariadbAvailable, start: startPrivateMariadb },
]

for (const { name, available, start } of SERVERS) {
  test(`a killed ${name} fails calls with ERR_STORE_UNAVAILABLE, and the same owned session goes on when it is back`, async (t) => {
    if (!available()) {
      if (process.env.CI === 'true') t.fail(`${name} server binaries are required in CI (.ci/run installs them)`)
      else t.pass(`no ${name} server binaries here: skipping (in CI this fails)`)
      return
    }
    const server = await start()
    t.teardown(() => server.stop())
    const store = await openStore(server.url, { commandTimeoutMs: 1500, connectTimeoutMs: 1500 })
    t.teardown(() => store.close())
    const auth = await useRustAuthState('bot', { store, baileys })
    const acknowledged = []
    for (let i = 1; i <= 20; i++) {
      await auth.state.keys.set({ 'pre-key': { [i]: preKey(i) } })
      acknowledged.push(i)
    }
    await auth.saveCreds()

    await server.kill()
    // Every kind of call fails fast with the code, none hangs (ava's timeout would catch a hang).
    const set = await t.throwsAsync(auth.state.keys.set({ 'pre-key': { 99: preKey(99) } }))
    t.is(set.code, ErrorCodes.STORE_UNAVAILABLE, set.message)
    const get = await t.throwsAsync(store.getKeys('bot', 'pre-key', ['1']))
    t.is(get.code, ErrorCodes.STORE_UNAVAILABLE, get.message)
    t.is((await t.throwsAsync(auth.saveCreds())).code, ErrorCodes.STORE_UNAVAILABLE)

    await server.start()
    // The same store reconnects; the session's lease (30 s) outlived the outage.
    await until(async () => {
      try {
        await auth.state.keys.set({ 'pre-key': { 21: preKey(21) } })
        return true
      } catch (err) {
        if (err.code !== ErrorCodes.STORE_UNAVAILABLE) throw err
        return false
      }
    }, 'a write to succeed once the server is back')
    acknowledged.push(21)
    t.false(auth.stats().lease.lost)
    const all = await auth.state.keys.get('pre-key', acknowledged.map(String))
    for (const i of acknowledged) t.deepEqual(all[i], preKey(i), `pre-key ${i}`)
    // The write refused while the server was down may or may not have reached it (its outcome
    // was unknown): if it is there, it is whole.
    const maybe = (await auth.state.keys.get('pre-key', ['99']))['99']
    t.true(maybe === null || Buffer.from(maybe.public).equals(preKey(99).public))
    await auth.close()
    t.deepEqual(unhandled, [], 'no unhandled rejection')
  })
}
