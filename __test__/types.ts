// Compiled by `npm run test:types`, never run: the public types fit Baileys' own types.
import makeWASocket, { type AuthenticationState, type SignalKeyStore, useMultiFileAuthState } from 'baileys'
import {
  type AuthStateStats,
  type AuthStore,
  type AuthStoreError,
  type AuthStoreErrorCode,
  type GrantedLease,
  type LeaseInfo,
  ErrorCodes,
  exportFolder,
  importFolder,
  isAuthStoreError,
  migrate,
  type MigrateFailure,
  openStore,
  rekey,
  type RekeyResult,
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

// The state is typed by the app's Baileys, exactly as useMultiFileAuthState's: a typo in a creds
// field or a key value fails to compile (each @ts-expect-error fails the check if it compiles).
export async function typedLikeBaileys(): Promise<void> {
  const { state, close } = await useRustAuthState('typed')
  const registrationId: number = state.creds.registrationId
  // @ts-expect-error Baileys' AuthenticationCreds has no such field
  void state.creds.registrationIdTypo
  const preKeys = await state.keys.get('pre-key', ['1'])
  const publicKey: Uint8Array = preKeys['1'].public
  // @ts-expect-error a pre-key is Baileys' KeyPair
  void preKeys['1'].publicTypo
  // @ts-expect-error keys.set takes Baileys' SignalDataSet: a pre-key is a KeyPair, not a string
  await state.keys.set({ 'pre-key': { '1': 'not a key pair' } })
  await state.keys.set({ 'pre-key': { '1': { public: publicKey, private: publicKey }, '2': null } })
  const multi = await useMultiFileAuthState('./auth_info_baileys')
  // @ts-expect-error the same typo fails the same way with Baileys' own store
  void multi.state.creds.registrationIdTypo
  await close()
  void registrationId
}

export async function operations(store: AuthStore): Promise<void> {
  const creds = await store.getCreds('session-id')
  const me: string | undefined = creds?.me?.id
  const memory = await store.getKeys('session-id', 'sender-key-memory', ['group@g.us'])
  const known: boolean | undefined = memory['group@g.us']?.['user@s.whatsapp.net']
  const unknownType = await store.getKeys('session-id', 'bridge-namespace', ['x'])
  await store.setKeys('session-id', { 'bridge-namespace': { x: unknownType.x } })
  void [me, known]
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
  await exportFolder('./exported', { session: 'session-id', store: 'sqlite:./auth.db', takeover: false })
  const { sessions, skipped } = await migrate({ from: 'sqlite:./auth.db', to: 'redis://127.0.0.1:6379', overwrite: false, takeover: true })
  const sealed: boolean = store.encrypted
  // @ts-expect-error encrypted is read-only
  store.encrypted = false
  await exportFolder('./exported-clear', { session: 'session-id', store, decrypt: sealed })
  await migrate({ from: store, to: 'sqlite:./plain.db', decrypt: true, toOptions: { encryption: null } })
  await openStore('sqlite:./kms.db', { encryption: async () => ({ key: Buffer.alloc(32) }) })
  await useRustAuthState('session-id', { store: 'sqlite:./kms.db', encryption: () => ({ passphrase: 'p' }) })
  const rekeyed: RekeyResult = await rekey({ store: 'sqlite:./auth.db', from: { key: Buffer.alloc(32) }, to: { passphrase: 'p' }, waitMs: 0 })
  const pendingOwners: (string | undefined)[] = rekeyed.pending.map((p) => p.owner?.host)
  // @ts-expect-error the keys of a rekey are from and to, not storeOptions.encryption
  await rekey({ from: { key: 'k' }, to: { key: 'k2' }, storeOptions: { encryption: null } })
  void pendingOwners
  await importFolder('./auth_info_baileys', { session: 'session-id', takeover: true })
  await store.deleteSession('session-id', { takeover: true })
  void [when, perType, problems, sessions, skipped]
}

export function handle(err: unknown): AuthStoreErrorCode | undefined {
  if (isAuthStoreError(err)) {
    const code: AuthStoreErrorCode = err.code
    if (code === ErrorCodes.STORE_CORRUPT) return code
    if (code === ErrorCodes.SESSION_LOCKED) {
      const owner: string = `${err.owner?.host} (pid ${err.owner?.pid}) until ${err.owner?.expiresAt.toISOString()}`
      const where: 'from' | 'to' | undefined = err.storeOption
      const failures = (err as { failures?: MigrateFailure[] }).failures ?? []
      void [owner, where, err.session, failures.map((f) => f.owner?.pid ?? f.storeOption)]
    }
    return code
  }
  return undefined
}

export async function ownership(): Promise<void> {
  const auth = await useRustAuthState('session-id', {
    leaseMs: 60000,
    takeover: false,
    cacheBytes: 4 * 1024 * 1024,
    onLost: (err) => console.log(err.code === ErrorCodes.SESSION_FENCED),
  })
  const lost: AuthStoreError = await auth.lost
  const stats: AuthStateStats = auth.stats()
  const epoch: number | undefined = stats.lease?.epoch
  const hitRate: number | undefined = stats.cache?.hitRate
  await auth.deleteSession()
  const store = await openStore('sqlite:./auth.db')
  const fleet: AuthStore = await openStore('postgres://bots@db/whatsapp', { schema: 'baileys', poolSize: 8, commandTimeoutMs: 2000 })
  const mysqlStore: AuthStore = await openStore('mysql://bots@db/whatsapp', { tablePrefix: 'wa_', connectTimeoutMs: 1000 })
  await fleet.close()
  await mysqlStore.close()
  const owner: LeaseInfo | null = await store.lease('session-id')
  const expires: Date | undefined = owner?.expiresAt
  const all = await store.leases()
  const names: string[] = all.map((l) => `${l.session} ${l.host} ${l.pid} ${l.live}`)
  const granted: GrantedLease = await store.acquireLease('session-id', { leaseMs: 30000, claim: 'takeover' })
  await store.setKeys('session-id', { 'pre-key': { 1: null } }, granted.fence)
  await store.renewLease('session-id', granted.fence)
  await store.releaseLease('session-id', granted.fence)
  await store.deleteSession('session-id', { takeover: true })
  try {
    await useRustAuthState('session-id', { lease: false })
  } catch (err) {
    if (isAuthStoreError(err) && err.code === ErrorCodes.SESSION_LOCKED) console.log(err.owner?.host, err.owner?.expiresAt)
  }
  void [lost, epoch, hitRate, expires, names, (await store.stats('session-id')).owner?.live]
}
