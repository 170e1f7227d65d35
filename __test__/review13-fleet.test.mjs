// Review of issue 13's fleet-scale ownership (lib/ownership.js Renewer and Acquirer, one lock
// file per process): one process owning 10,000 sessions of one SQLite file keeps them all
// through several lease periods, with one lock file, and gives them all back on release.
import test from 'ava'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

import { openStore } from '../index.mjs'
import { tempDir } from './helpers/temp.mjs'
import { until } from './helpers/until.mjs'

const require = (await import('node:module')).createRequire(import.meta.url)
const { SessionLease } = require('../lib/ownership.js')

const SESSIONS = 10_000
const LEASE_MS = 3000

test('one process owning 10,000 sessions keeps every lease through four lease periods, with one lock file, and releases them all', async (t) => {
  const db = join(tempDir(), 'auth.db')
  const store = await openStore(`sqlite:${db}`)
  t.teardown(() => store.close())
  const names = Array.from({ length: SESSIONS }, (_, i) => `fleet-${i}`)
  const leases = await Promise.all(names.map((name) => SessionLease.acquire(store, name, { leaseMs: LEASE_MS })))
  t.deepEqual(readdirSync(`${db}.leases`).length, 1, 'one lock file for the process')
  const firstExpiry = Math.min(...leases.map((l) => l.info().expiresAt.getTime()))
  // Four lease periods after the first expiry would have been, every lease has been renewed.
  await until(() => leases.every((l) => l.isLost || l.info().expiresAt.getTime() > firstExpiry + 4 * LEASE_MS), 'four lease periods of renewals', 120_000)
  const lost = leases.filter((l) => l.isLost).length
  t.is(lost, 0, `${lost} of ${SESSIONS} leases lost`)
  const stored = await store.leases()
  t.is(stored.filter((l) => l.live).length, SESSIONS)
  await Promise.all(leases.map((l) => l.release()))
  t.deepEqual(readdirSync(`${db}.leases`), [], 'the lock file goes with the last session')
  t.is((await store.leases()).filter((l) => l.live).length, 0)
})
