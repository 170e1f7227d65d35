// The package used from TypeScript: compiled with `tsc --strict` against the installed
// index.d.ts and Baileys' own types (no casts), then run.
import type { AuthenticationState, SignalKeyStore } from 'baileys'
import { type AuthStore, openStore, type RustAuthState, useRustAuthState } from 'baileys-rust-auth'
import { smoke } from './check.mjs'

async function typed(): Promise<void> {
  const store: AuthStore = await openStore()
  const { state, saveCreds }: RustAuthState = await useRustAuthState('smoke-ts', { store })
  const auth: AuthenticationState = state
  const keys: SignalKeyStore = state.keys
  const ids: string[] = Object.keys(await keys.get('pre-key', ['1']))
  const sessions: string[] = await store.sessions()
  await store.close()
  void [auth, saveCreds, ids, sessions]
}

await smoke({ useRustAuthState, openStore }, 'ts')
await typed()
