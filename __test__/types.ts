// Compiled by `npm run test:types`, never run: the public types fit Baileys' own types.
import makeWASocket, { type AuthenticationState, type SignalKeyStore } from 'baileys'
import {
  type AuthStore,
  type AuthStoreErrorCode,
  ErrorCodes,
  exportFolder,
  importFolder,
  isAuthStoreError,
  migrate,
  openStore,
  type SessionStats,
  type TransferResult,
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

export async function operations(store: AuthStore): Promise<void> {
  const stats: SessionStats = await store.stats('session-id')
  const when: Date | null = stats.lastWriteAt
  const perType: number = stats.keys['pre-key']?.count ?? 0
  await store.backup('./backup.db')
  const imported: TransferResult = await importFolder('./auth_info_baileys', {
    session: 'session-id',
    store,
    onProgress: ({ phase, done, total }) => console.log(phase, done, total),
  })
  const problems: string[] = imported.problems.map((p) => `${p.file}: ${p.reason}`)
  await exportFolder('./exported', { session: 'session-id', store: 'sqlite:./auth.db' })
  const { sessions, skipped } = await migrate({ from: 'sqlite:./auth.db', to: 'redis://127.0.0.1:6379', overwrite: false })
  void [when, perType, problems, sessions, skipped]
}

export function handle(err: unknown): AuthStoreErrorCode | undefined {
  if (isAuthStoreError(err)) {
    const code: AuthStoreErrorCode = err.code
    if (code === ErrorCodes.STORE_CORRUPT) return code
    return code
  }
  return undefined
}
