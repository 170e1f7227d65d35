// coldstart: a process restarts with many accounts. A fresh child process opens the store,
// loads the creds of every stored session (1,000) and reads one session record for each, all
// sessions concurrently as a fleet boots. Timed from just before the peer module is imported
// (loading a native addon or a client library is part of a cold start; Baileys itself is
// loaded before the clock starts, since every store needs it) until every session is ready.
// The store is populated once per run of the suite (populate), so each measured child reads
// the same data from a warm page cache.
import assert from 'node:assert/strict'

import { lookalikeCreds } from '../lib/creds.mjs'

export const metrics = {
  totalMs: { label: 'coldstart: open all sessions', short: 'coldstart', unit: 'ms', higher: false },
}

const sessionId = (i) => `account-${String(i).padStart(5, '0')}`
const jidOf = (i) => `1666${String(i).padStart(7, '0')}@s.whatsapp.net`

/** Writes the sessions through each peer's own API: creds plus one session record each. */
export async function populate({ open, sizes, fixtures }) {
  const { credsTemplate, address, record } = fixtures.coldstart
  const backend = await open()
  for (let i = 0; i < sizes.coldstartSessions; i++) {
    const auth = await backend.use(sessionId(i))
    // Mutate the creds object in place: useMultiFileAuthState's saveCreds closes over it.
    Object.assign(auth.state.creds, lookalikeCreds(credsTemplate, jidOf(i)))
    await auth.saveCreds()
    await auth.state.keys.set({ session: { [address]: record } })
  }
  // The child closes what ctx.open() opened.
}

export async function run({ open, sizes, fixtures, measure }) {
  const { address } = fixtures.coldstart
  const ids = Array.from({ length: sizes.coldstartSessions }, (_, i) => i)
  const { ms, eld } = await measure(async () => {
    const backend = await open()
    await Promise.all(
      ids.map(async (i) => {
        const auth = await backend.use(sessionId(i))
        assert.equal(auth.state.creds.me?.id, jidOf(i), 'creds were not loaded')
        const { [address]: session } = await auth.state.keys.get('session', [address])
        assert.ok(session, 'session record missing')
      }),
    )
  })
  return {
    totalMs: ms,
    sessionsPerSec: (ids.length / ms) * 1000,
    sinceProcessStartMs: performance.now(), // also Node's own start, loading Baileys, reading fixtures
    eld,
  }
}
