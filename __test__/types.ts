// Compiled by `npm run test:types`, never run: the public types fit Baileys' own types.
import makeWASocket, { type AuthenticationState, type SignalKeyStore } from 'baileys'
import {
  type AuthStore,
  type AuthStoreErrorCode,
  ErrorCodes,
  isAuthStoreError,
  openStore,
  useRustAuthState,
} from 'baileys-rust-auth'

export async function wiring(): Promise<void> {
  const { state, saveCreds, store } = await useRustAuthState('session-id', { store: 'sqlite:./auth.db' })
  const auth: AuthenticationState = state
  const keys: SignalKeyStore = state.keys
  const sock = makeWASocket({ auth: state })
  sock.ev.on('creds.update', saveCreds)

  const shared: AuthStore = await openStore()
  await useRustAuthState('other', { store: shared })
  const names: string[] = await store.sessions()
  await store.deleteSession(names[0])
  await store.close()
  void auth
  void keys
}

export function handle(err: unknown): AuthStoreErrorCode | undefined {
  if (isAuthStoreError(err)) {
    const code: AuthStoreErrorCode = err.code
    if (code === ErrorCodes.STORE_CORRUPT) return code
    return code
  }
  return undefined
}
