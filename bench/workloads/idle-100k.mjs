// idle-100k: a process that hosts very many accounts, most of them idle. 100,000 sessions are
// opened in one process on one store, each through the peer's own `use` (creds loaded) plus one
// `keys.get` of the one key it holds, and then kept open, idle. Reported: the time to open all
// (up to OPEN_CONCURRENCY at once, as a fleet boots), and the RSS per idle session above the
// baseline of Node + Baileys + the open store (both measured after a full GC: the child runs
// with --expose-gc). The store is populated once per run of the suite (populate) from one creds
// template with varied ids, so nothing here pays for initAuthCreds.
//
// A store that cannot hold that many sessions open (a file descriptor per session, say) fails
// here with its own error: the runner shows it as a failed row.
import assert from 'node:assert/strict'

import { lookalikeCreds } from '../lib/creds.mjs'

export const metrics = {
  openMs: { label: 'idle-100k: open all sessions', short: 'idle open', unit: 'ms', higher: false },
  rssPerSessionBytes: { label: 'idle-100k: RSS per idle session', short: 'idle RSS', unit: 'B', higher: false },
}
export const nodeArgs = ['--expose-gc']

const OPEN_CONCURRENCY = 100
const POPULATE_CONCURRENCY = 100
const sessionId = (i) => `idle-${String(i).padStart(6, '0')}`
const jidOf = (i) => `1888${String(i).padStart(7, '0')}@s.whatsapp.net`
const KEY_ID = '1'

/** Runs `fn(i)` for i < n with at most `width` in flight. */
async function pool(n, width, fn) {
  let next = 0
  const worker = async () => {
    while (next < n) await fn(next++)
  }
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker))
}

/** One pre-key pair per session: a small key to read back. */
const keyOf = (baileys, i) => ({ public: Buffer.alloc(32, i & 255), private: Buffer.alloc(32, (i >> 8) & 255) })

async function write(backend, baileys, template, i) {
  const auth = await backend.use(sessionId(i))
  Object.assign(auth.state.creds, lookalikeCreds(template, jidOf(i)))
  await auth.saveCreds()
  await auth.state.keys.set({ 'pre-key': { [KEY_ID]: keyOf(baileys, i) } })
  await auth.close()
}

/** Writes every session through the peer's own API (closed again: nothing is held open). */
export async function populate({ baileys, open, sizes, fixtures }) {
  const backend = await open()
  await pool(sizes.idleSessions, POPULATE_CONCURRENCY, (i) => write(backend, baileys, fixtures.coldstart.credsTemplate, i))
}

const rss = () => {
  global.gc()
  global.gc()
  return process.memoryUsage().rss
}

export async function run({ baileys, open, sizes, fixtures, measure, persistent }) {
  const n = sizes.idleSessions
  const backend = await open()
  const before = rss()
  // A store with nothing to load from (the Map) gets its sessions written here, after the
  // baseline and before the clock, with the same creds and key; its open is then only the
  // `get` of what it holds.
  const held = new Array(n)
  if (!persistent) {
    const template = fixtures.coldstart.credsTemplate
    for (let i = 0; i < n; i++) {
      const auth = await backend.use(sessionId(i))
      Object.assign(auth.state.creds, lookalikeCreds(template, jidOf(i)))
      await auth.state.keys.set({ 'pre-key': { [KEY_ID]: keyOf(baileys, i) } })
      held[i] = auth
    }
  }
  // A failure says how far the open got (e.g. EMFILE after some thousands of sessions).
  let opened = 0
  const where = (e) => Object.assign(new Error(`with ${opened} of ${n} sessions open: ${e.message}`), { code: e.code })
  const { ms, eld } = await measure(() =>
    pool(n, OPEN_CONCURRENCY, async (i) => {
      const auth = held[i] ?? (await backend.use(sessionId(i)))
      assert.equal(auth.state.creds.me?.id, jidOf(i), 'creds were not loaded')
      const { [KEY_ID]: key } = await auth.state.keys.get('pre-key', [KEY_ID])
      assert.ok(key && Buffer.from(key.public).equals(keyOf(baileys, i).public), `session ${i}: key missing or wrong`)
      held[i] = auth
      opened++
    }),
  ).catch((e) => {
    throw where(e)
  })
  let after
  try {
    after = rss()
  } catch (e) {
    throw where(Object.assign(new Error(`(all opened in ${ms.toFixed(0)} ms, then) ${e.message}`), { code: e.code }))
  }
  // Still held (and so still open) up to here.
  assert.equal(held.filter(Boolean).length, n)
  return {
    openMs: ms,
    sessionsPerSec: (n / ms) * 1000,
    rssPerSessionBytes: (after - before) / n,
    rssBaselineMB: before / 2 ** 20,
    eld,
  }
}
