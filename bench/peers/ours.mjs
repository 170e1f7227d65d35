// baileys-rust-auth itself, through its public API (useRustAuthState over one openStore), on
// SQLite (a fresh file: WAL, synchronous=FULL, as shipped), on the run's private Redis, or on
// the machine's PostgreSQL or MySQL (a schema / table prefix per child, lib/sql.mjs).
// (The `-wired` workloads put Baileys' makeCacheableSignalKeyStore around any store's keys, as
// many apps do: lib/child.mjs.) `lease: false`
// and `cacheBytes: 0` measure what ownership costs and what the owner's cache gives
// (docs/ownership.md): by default each session is owned (leased, fenced writes) and cached.
//
// Every peer module exports `open(config)` resolving to a backend:
//   backend.use(sessionId) -> { state: { creds, keys: { get, set } }, saveCreds, close() }
//   backend.close()
// config: { dir (an empty private directory), redisUrl, keyPrefix, baileys, options }
import { createRequire } from 'node:module'
import { join } from 'node:path'

import { MYSQL_URL, namespaceOf, POSTGRES_URL } from '../lib/sql.mjs'

// The package under test is CommonJS at the repo root (bench/ is its own npm project, so the
// package name does not resolve from here).
const { openStore, useRustAuthState } = createRequire(import.meta.url)('../../index.js')

// The encrypted rows' key: any 32 bytes do (what is measured is the sealing, not the key).
const KEY = Buffer.alloc(32, 0x5e)

export async function open({ dir, redisUrl, keyPrefix, baileys, options }) {
  const sealed = options.encrypted ? { encryption: { key: KEY } } : {}
  const store =
    options.backend === 'redis' ? await openStore(redisUrl, { keyPrefix, ...sealed })
      : options.backend === 'postgres' ? await openStore(POSTGRES_URL, { schema: `bench_${namespaceOf(keyPrefix)}`, ...sealed })
      : options.backend === 'mysql' ? await openStore(MYSQL_URL, { tablePrefix: `bench_${namespaceOf(keyPrefix)}_`, ...sealed })
      : await openStore(`sqlite:${join(dir, 'auth.db')}`, sealed)
  return {
    async use(sessionId) {
      const ownership = { lease: options.lease, cacheBytes: options.cacheBytes }
      const { state, saveCreds, close } = await useRustAuthState(sessionId, { store, baileys, ...ownership })
      // The store was passed in: closing a session releases it and leaves the store open.
      return { state, saveCreds, close }
    },
    close: () => store.close(),
  }
}
