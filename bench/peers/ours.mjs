// baileys-rust-auth itself, through its public API (useRustAuthState over one openStore), on
// SQLite (a fresh file: WAL, synchronous=FULL, as shipped) or on the run's private Redis.
//
// Every peer module exports `open(config)` resolving to a backend:
//   backend.use(sessionId) -> { state: { creds, keys: { get, set } }, saveCreds, close() }
//   backend.close()
// config: { dir (an empty private directory), redisUrl, keyPrefix, baileys, options }
import { createRequire } from 'node:module'
import { join } from 'node:path'

// The package under test is CommonJS at the repo root (bench/ is its own npm project, so the
// package name does not resolve from here).
const { openStore, useRustAuthState } = createRequire(import.meta.url)('../../index.js')

export async function open({ dir, redisUrl, keyPrefix, baileys, options }) {
  const store =
    options.backend === 'redis'
      ? await openStore(redisUrl, { keyPrefix })
      : await openStore(`sqlite:${join(dir, 'auth.db')}`)
  return {
    async use(sessionId) {
      const { state, saveCreds } = await useRustAuthState(sessionId, { store, baileys })
      // Sessions share the store; closing one session has nothing to release.
      return { state, saveCreds, close: async () => {} }
    },
    close: () => store.close(),
  }
}
