/**
 * baileys-rust-auth: a production-grade auth state store for Baileys, written in Rust.
 *
 * ```ts
 * const { state, saveCreds } = await useRustAuthState('session-id')
 * const sock = makeWASocket({ auth: state })
 * sock.ev.on('creds.update', saveCreds)
 * ```
 */

// Baileys' own types, from the app's installed Baileys: state.creds and key values are typed as
// they are for useMultiFileAuthState. (An app that installs a fork under another name and not
// `baileys` gets `any` for these, as the import cannot be resolved.)
import type { AuthenticationCreds, AuthenticationState, SignalDataSet, SignalDataTypeMap, SignalKeyStore } from 'baileys'

/** The `code` of every error this package rejects with. */
export declare const ErrorCodes: {
  /** An argument is invalid, or a value cannot be stored (function, BigInt, circular, ...). Nothing was written. */
  readonly INVALID_ARG: 'ERR_INVALID_ARG'
  /** The store was used after `close()`. */
  readonly STORE_CLOSED: 'ERR_STORE_CLOSED'
  /** Stored data cannot be read: a damaged file, or a file that is not a baileys-rust-auth store. */
  readonly STORE_CORRUPT: 'ERR_STORE_CORRUPT'
  /** The database was written by a newer version of baileys-rust-auth; it was left untouched. */
  readonly STORE_VERSION: 'ERR_STORE_VERSION'
  /** The disk or database engine failed: disk full, permissions, missing directory, locks, a database file deleted or replaced while open. */
  readonly STORE_IO: 'ERR_STORE_IO'
  /** `openStore(url, { create: false })` found no database file at the URL's path. */
  readonly STORE_NOT_FOUND: 'ERR_STORE_NOT_FOUND'
  /** A networked store (Redis) cannot be reached within its timeouts; the same call may succeed later. */
  readonly STORE_UNAVAILABLE: 'ERR_STORE_UNAVAILABLE'
  /** An encrypted store opened without its key or with another, or a plain store opened with a key (docs/encryption.md). */
  readonly STORE_KEY: 'ERR_STORE_KEY'
  /** The store cannot do this (an online backup of a Redis store, say). */
  readonly UNSUPPORTED: 'ERR_UNSUPPORTED'
  /** An import, export or migration was checked afterwards and the copy differs; `mismatches` lists how. */
  readonly VERIFY_FAILED: 'ERR_VERIFY_FAILED'
  /** No native binary loads on this platform (thrown when the package is loaded); the message says which package would hold it and how to build one. */
  readonly NATIVE_BINDING: 'ERR_NATIVE_BINDING'
  /** Another owner holds a live lease on the session (`err.owner` says who, and until when); nothing was written. Pass `takeover: true` to take it over. */
  readonly SESSION_LOCKED: 'ERR_SESSION_LOCKED'
  /** This handle's lease is no longer the session's (taken over, released, or not renewed in time); nothing of the call was written. End the socket. */
  readonly SESSION_FENCED: 'ERR_SESSION_FENCED'
}

export type AuthStoreErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/** An error raised by this package. */
export interface AuthStoreError extends Error {
  code: AuthStoreErrorCode
  /** On `ERR_SESSION_LOCKED`: who owns the session. */
  owner?: LeaseOwner
  /** On `ERR_SESSION_LOCKED` from `importFolder`, `exportFolder` and `migrate`: the session refused. */
  session?: string
  /**
   * On `ERR_SESSION_LOCKED` from `migrate`: the store the session is owned in; on `ERR_STORE_KEY`
   * from `migrate`: the store (given as a URL) that the key did not open.
   */
  storeOption?: 'from' | 'to'
}

/** Who holds a session's lease (docs/ownership.md). */
export interface LeaseOwner {
  /** The owner's host name and process id (as the owner saw them; inside a container, the container's). */
  host: string
  pid: number
  /** When it took the lease, and when the lease lapses unless renewed. */
  acquiredAt: Date
  expiresAt: Date
}

/** A session's stored lease, as `AuthStore.lease()`, `leases()` and `stats()` show it. */
export interface LeaseInfo extends LeaseOwner {
  /** Grows by one at every acquisition; never goes back. */
  epoch: number
  /** Held now: not released and not expired. (A holder that died shows as live until the next owner takes the session, at once on SQLite, or its lease lapses.) */
  live: boolean
}

/** A lease granted by `AuthStore.acquireLease()`: `fence` goes with the holder's writes. */
export interface GrantedLease extends LeaseInfo {
  fence: string
}

/** Whether `err` is an error of this package (it has one of the `ErrorCodes`). */
export declare function isAuthStoreError(err: unknown): err is AuthStoreError

/** Baileys' `SignalKeyStore` as this package implements it: `clear()` is always there. */
export interface RustSignalKeyStore extends SignalKeyStore {
  /** Every requested id is a key of the result; a missing id maps to `null`. */
  get<T extends keyof SignalDataTypeMap>(type: T, ids: string[]): Promise<{ [id: string]: SignalDataTypeMap[T] }>
  /** One atomic batch across all types and ids; `null` or `undefined` deletes a key. */
  set(data: SignalDataSet): Promise<void>
  /** Removes every key of this session (not its creds). */
  clear(): Promise<void>
}

/** Baileys' `AuthenticationState`: pass it as `makeWASocket({ auth: state })`. */
export interface RustAuthenticationState extends AuthenticationState {
  /** The saved creds, or fresh ones from Baileys' `initAuthCreds()`. */
  creds: AuthenticationCreds
  keys: RustSignalKeyStore
}

/** A key store's data for types Baileys does not know yet: stored like any other. */
export type AnyKeyData = { [type: string]: { [id: string]: unknown } | null | undefined }

/** A store holding any number of sessions. */
export declare class AuthStore {
  private constructor()
  /** The URL this store was opened with. */
  readonly url: string
  /**
   * Whether it was opened with `options.encryption` (an encrypted store: it opens only with its
   * key). `exportFolder` and `migrate` into a store without encryption keep its values sealed
   * unless given `decrypt: true`.
   */
  readonly encrypted: boolean
  /** Whether `close()` has been called. */
  readonly closed: boolean
  /**
   * Group commit counts since the store opened: write `groups` committed (on SQLite one commit,
   * one fsync, each; on Redis one pipeline) and the creds saves and key batches (`writes`) they held.
   */
  readonly writeGroups: { groups: number; writes: number }
  /** Every session that has creds or keys, sorted. */
  sessions(): Promise<string[]>
  /** What the store is, whatever URL opened it: equal for two stores on one SQLite file or one Redis server, db and prefix. */
  readonly identity: string
  /**
   * Removes a session's creds and all its keys, atomically. A session another owner holds is
   * refused `ERR_SESSION_LOCKED` unless `takeover: true` (that owner is fenced). `fence`: the
   * owner's own, from `acquireLease()`.
   */
  deleteSession(sessionId: string, options?: { takeover?: boolean; fence?: string }): Promise<void>
  /**
   * Takes the session's lease (`useRustAuthState` does it for you). `claim`: `'refuse'` (the
   * default: `ERR_SESSION_LOCKED` if anyone holds it), `'process'` (take it from a holder in
   * this process) or `'takeover'` (from anyone; that holder is fenced). `leaseMs` default 30000.
   */
  acquireLease(sessionId: string, options?: { leaseMs?: number; claim?: 'refuse' | 'process' | 'takeover' }): Promise<GrantedLease>
  /** Extends the lease `fence` names by `leaseMs` from now; `ERR_SESSION_FENCED` if it is no longer the session's. */
  renewLease(sessionId: string, fence: string, leaseMs?: number): Promise<GrantedLease>
  /**
   * Takes several sessions' leases in one go (SQLite: one transaction): for each, in order,
   * `{ lease }` or `{ error }` (ERR_SESSION_LOCKED with `owner`). `claims[i]` as acquireLease's `claim`.
   */
  acquireLeases(
    sessionIds: string[],
    claims: Array<'refuse' | 'process' | 'takeover'>,
    leaseMs?: number,
  ): Promise<Array<{ lease: GrantedLease; error?: undefined } | { lease?: undefined; error: AuthStoreError }>>
  /** Renews several leases in one go (SQLite: one transaction): for each, in order, `{ lease }` or `{ error }` (ERR_SESSION_FENCED). */
  renewLeases(
    sessionIds: string[],
    fences: string[],
    leaseMs?: number,
  ): Promise<Array<{ lease: GrantedLease; error?: undefined } | { lease?: undefined; error: AuthStoreError }>>
  /** Gives the lease back, so that the next owner takes the session at once; a lease already taken over is left alone. */
  releaseLease(sessionId: string, fence: string): Promise<void>
  /** The session's stored lease, or `null` if it was never leased. Reads only. */
  lease(sessionId: string): Promise<LeaseInfo | null>
  /** Every session's stored lease, sorted by session. Reads only. */
  leases(): Promise<Array<LeaseInfo & { session: string }>>
  /** Checks the store's consistency (SQLite: integrity_check and foreign keys); resolves to the problems found, `[]` when sound. */
  check(): Promise<string[]>
  /** What a session holds. An unknown session has no creds and no keys. */
  stats(sessionId: string): Promise<SessionStats>
  /** Every key of a session, without values, sorted by type and id. */
  listKeys(sessionId: string): Promise<KeyInfo[]>
  /**
   * Copies the whole store, consistently, to a new SQLite file while it stays in use.
   * `file` is replaced atomically. SQLite stores only: others reject with `ERR_UNSUPPORTED`.
   */
  backup(file: string): Promise<void>
  /**
   * Finishes every operation issued before it, then closes. Later calls reject with
   * `ERR_STORE_CLOSED`. A store shared by `useRustAuthState` is closed for all its sessions.
   */
  close(): Promise<void>

  /** The session's saved creds, or `null`. */
  getCreds(sessionId: string): Promise<AuthenticationCreds | null>
  /**
   * Saves the session's creds atomically. `fence`: the owner's (from `acquireLease()`); without
   * one, a session another owner holds is refused `ERR_SESSION_LOCKED`.
   */
  setCreds(sessionId: string, creds: AuthenticationCreds | { [field: string]: unknown }, fence?: string): Promise<void>
  /**
   * `SignalKeyStore.get` for one session (`app-state-sync-key` values come back as plain
   * objects, not protobuf messages); a missing id maps to `null`.
   */
  getKeys<T extends keyof SignalDataTypeMap>(sessionId: string, type: T, ids: string[]): Promise<{ [id: string]: SignalDataTypeMap[T] | null }>
  /** The same for a type Baileys does not know yet. */
  getKeys(sessionId: string, type: string, ids: string[]): Promise<{ [id: string]: unknown }>
  /** `SignalKeyStore.set` for one session: one atomic batch. `fence` as for `setCreds`. */
  setKeys(sessionId: string, data: SignalDataSet | AnyKeyData, fence?: string): Promise<void>
  /** Removes every key of the session, keeping its creds. `fence` as for `setCreds`. */
  clearKeys(sessionId: string, fence?: string): Promise<void>
}

/** `AuthStore.stats()`. */
export interface SessionStats {
  session: string
  credsPresent: boolean
  /** Stored size of the creds; 0 when absent. */
  credsBytes: number
  /** Keys and stored bytes per key type. */
  keys: { [type: string]: { count: number; bytes: number } }
  totalKeys: number
  /** Stored bytes of the keys and the creds. */
  totalBytes: number
  /**
   * The session's last write (creds or keys), to the second; `null` if unknown (a Redis
   * session last written by an older version of this package).
   */
  lastWriteAt: Date | null
  /** The session's lease (who owns it, until when), or `null` if it was never leased. */
  owner: LeaseInfo | null
}

/** One key of `AuthStore.listKeys()`. */
export interface KeyInfo {
  type: string
  id: string
  /** Stored size of the value. */
  bytes: number
}

/** Progress of an import, export or migration: `done` of `total` keys of one phase. */
export interface TransferProgress {
  phase: 'copy' | 'verify'
  session: string
  done: number
  total: number
}

export interface TransferOptions {
  /** Keys per read and per write batch. Default 500. */
  batchSize?: number
  /** Called after each batch. */
  onProgress?: (progress: TransferProgress) => void
}

/** What was copied into one session. */
export interface TransferResult {
  session: string
  /** Keys the session holds now. */
  keys: number
  /** Keys written by this run. */
  written: number
  /** Keys already in the target with the same bytes: an interrupted run being resumed, or every key of a session that was copied before and only verified. */
  unchanged: number
  /** Keys of an unfinished target session that the source does not provide (or whose file cannot be imported), removed. */
  removed: number
  /** Files that could not be imported, and why. Empty for migrations. */
  problems: { file: string; reason: string }[]
}

export interface ImportFolderOptions extends TransferOptions {
  /** The session id to import as. */
  session: string
  /** The store to import into: a URL (opened and closed here) or an open store. Default as `openStore`. */
  store?: string | AuthStore
  /** `openStore` options when `store` is a URL. */
  storeOptions?: OpenStoreOptions
  /** Replace the session if the store already has it with other creds. Default false. */
  overwrite?: boolean
  /** Key types newer than this package to import too; their ids are taken as they are. */
  types?: string[]
  /**
   * The import writes the session as its temporary owner (it takes the session's lease): a
   * session another process owns (a running `useRustAuthState`) is refused
   * `ERR_SESSION_LOCKED`, naming the owner (`err.owner`), and nothing is written. `true` takes
   * it all the same: that owner is fenced, its next write rejects `ERR_SESSION_FENCED`.
   * Default false.
   */
  takeover?: boolean
}

/**
 * Imports a Baileys `useMultiFileAuthState` folder as one session, exactly: creds and every
 * key file, ids un-mangled per type, 6.7-era Buffers normalised. The folder is only read.
 * Re-running an interrupted import resumes it; it ends by verifying the session both ways.
 */
export declare function importFolder(folder: string, options: ImportFolderOptions): Promise<TransferResult>

export interface ExportFolderOptions extends TransferOptions {
  session: string
  /** The store to read: a URL or an open store. Default as `openStore`. */
  store?: string | AuthStore
  storeOptions?: OpenStoreOptions
  /**
   * The export reads the session as its temporary owner, so that no owner writes it
   * meanwhile: a session another process owns is refused `ERR_SESSION_LOCKED`, naming the
   * owner (`err.owner`). `true` takes it all the same (that owner is fenced). Default false.
   */
  takeover?: boolean
  /**
   * A folder holds the creds and keys in the clear: a session of an encrypted store (an
   * AuthStore whose `encrypted` is true, or a URL with `storeOptions.encryption`) is refused
   * `ERR_INVALID_ARG` before anything is read, unless `true`. Default false.
   */
  decrypt?: boolean
}

/**
 * Writes a session as a folder that Baileys' `useMultiFileAuthState` opens. `folder` must not
 * exist or be empty; it appears complete and verified, or not at all. A session of an
 * encrypted store needs `decrypt: true` (the folder is plaintext).
 */
export declare function exportFolder(folder: string, options: ExportFolderOptions): Promise<{ session: string; keys: number; folder: string }>

export interface MigrateOptions extends TransferOptions {
  from: string | AuthStore
  to: string | AuthStore
  fromOptions?: OpenStoreOptions
  toOptions?: OpenStoreOptions
  /** Only this session. Default: every session of `from`. */
  session?: string
  /** Replace sessions that `to` already has with other creds. Default false. */
  overwrite?: boolean
  /**
   * Each session is copied as the temporary owner of both its source and its target session:
   * one another process owns (in either store) is refused `ERR_SESSION_LOCKED`, naming the
   * owner, and nothing of it is written; migrating all sessions lists it in `err.failures`
   * (with `owner` and `storeOption`) and copies the others. `true` takes such sessions all
   * the same: their owners are fenced. Default false.
   */
  takeover?: boolean
  /**
   * From an encrypted store (an AuthStore whose `encrypted` is true, or a URL with
   * `fromOptions.encryption`) into one without encryption, the values would leave in the
   * clear: refused `ERR_INVALID_ARG` before either store is opened, unless `true`. Between
   * encrypted stores (the same key or others) and from a plain store into an encrypted one,
   * nothing is needed. Default false.
   */
  decrypt?: boolean
}

/** One session that `migrate` of every session could not copy, in `err.failures`. */
export interface MigrateFailure {
  session: string
  code: AuthStoreErrorCode
  message: string
  /** On `ERR_VERIFY_FAILED`: how the copy differs. */
  mismatches: string[]
  /** On `ERR_SESSION_LOCKED`: who owns the session, and in which of the two stores. */
  owner?: LeaseOwner
  storeOption?: 'from' | 'to'
}

/**
 * Copies sessions between stores byte for byte, each verified both ways. A key that
 * disappears from the source during the copy (the session is in use) rejects with
 * `ERR_VERIFY_FAILED` before the session's creds are written; `err.mismatches` names each.
 * Migrating every session, a session that fails does not stop the others: the call then
 * rejects with the first failure's code, `err.failures` (`MigrateFailure[]`) and `err.result`
 * (what was copied). A session owned by another process is refused unless `takeover`.
 */
export declare function migrate(options: MigrateOptions): Promise<{
  sessions: TransferResult[]
  /** Sessions left out of a migration of all sessions: they have keys but no creds. */
  skipped: { session: string; reason: string }[]
}>

export interface RekeyOptions {
  /** The encrypted store. Default: `$BAILEYS_AUTH_STORE`, else `sqlite:./baileys-auth.db`. */
  store?: string
  /** Its other options (`keyPrefix`, `schema`, timeouts, …); not `encryption`: the keys are `from` and `to`. */
  storeOptions?: Omit<OpenStoreOptions, 'encryption' | 'create'>
  /** The key the store has now. */
  from: EncryptionSource
  /** The new key: `{ key }` or `{ passphrase }` (the kind may change). */
  to: EncryptionSource
  /**
   * How long to wait for sessions that running applications own: each owner re-seals its own
   * sessions when it next renews its lease (every third of `leaseMs`). Default 60000 ms; 0 waits
   * for none.
   */
  waitMs?: number
  /**
   * Called after each session is looked at: `stale` values still under an older key (0: done),
   * `owner` when a process owns it; `look` counts the looks at every session (the rekey ends with
   * one that re-sealed nothing, at least two seconds after it began).
   */
  onProgress?: (event: { session: string; resealed: number; stale: number; owner: LeaseOwner | null; done: number; total: number; look: number }) => void
}

/** What `rekey` did. */
export interface RekeyResult {
  /** Sessions of the store. */
  sessions: number
  /** Values re-sealed under the new key by this run (name records, creds, keys). */
  resealed: number
  /** Whether the rekey finished: only `to` opens the store now. */
  finished: boolean
  /** When not finished: the sessions whose owners had not re-sealed them when `waitMs` ran out. Run `rekey` again. */
  pending: { session: string; stale: number; owner: LeaseOwner | null }[]
}

/**
 * Changes the key of an encrypted store while applications keep using it (docs/encryption.md,
 * "Rotation"): the new key and a new value key join the store, every value is re-sealed under
 * it (each session as its temporary owner; sessions a running application owns are re-sealed
 * by that application at its next lease renewal), then the old key is dropped. Until it
 * finishes, both keys open the store. Interrupted (even by SIGKILL), it resumes when run again
 * with the same keys; run after it finished, it re-seals what is left and finishes again. Rejects
 * `ERR_STORE_KEY` when neither key opens the store (or the store is not encrypted),
 * `ERR_INVALID_ARG` when `to` is the key the store has already.
 */
export declare function rekey(options: RekeyOptions): Promise<RekeyResult>

/**
 * Options of `openStore`. `create` applies to every store; the timeouts to Redis, PostgreSQL
 * and MySQL; `keyPrefix` and `ttlSeconds` to Redis only; `schema`, `tablePrefix` and `poolSize`
 * to PostgreSQL (`schema`) and MySQL (`tablePrefix`) only. An option of another kind of store
 * rejects with `ERR_INVALID_ARG`.
 */
export interface OpenStoreOptions {
  /**
   * Whether to create what does not exist yet: a SQLite database file, a PostgreSQL schema or
   * MySQL tables (and to upgrade an older schema). Default `true`; with `false`, a missing
   * file or missing tables reject with `ERR_STORE_NOT_FOUND`, an older schema with
   * `ERR_STORE_VERSION`, and nothing is created or changed (for tools that only read).
   */
  create?: boolean
  /** Every Redis key starts with `<keyPrefix>:`. Default `'baileys'`. */
  keyPrefix?: string
  /** How long connecting (and reconnecting) may take, in ms. Default 5000. */
  connectTimeoutMs?: number
  /**
   * How long one round trip may take before the call rejects with `ERR_STORE_UNAVAILABLE`, in
   * ms, counted from when the call was issued. Default 5000.
   */
  commandTimeoutMs?: number
  /**
   * Redis only, off by default. When set, a session's creds and all its keys expire together
   * this many seconds after the session was last used; every access refreshes them all.
   */
  ttlSeconds?: number
  /**
   * PostgreSQL only: the schema that holds the store's tables, created if missing. Default
   * `'baileys'`; the URL may give it instead (`?schema=NAME`). ASCII letters, digits and `_`.
   */
  schema?: string
  /**
   * MySQL/MariaDB only: the prefix of the store's table names in the URL's database. Default
   * `'baileys_'`; the URL may give it instead (`?tablePrefix=NAME`).
   */
  tablePrefix?: string
  /** PostgreSQL and MySQL: how many connections the store may keep open, 1 to 64. Default 4. */
  poolSize?: number
  /**
   * Encryption at rest (docs/encryption.md), on every kind of store. An empty store opened
   * with a key becomes encrypted; an encrypted store opens only with its key, a plain one only
   * without: otherwise `ERR_STORE_KEY`, before anything is read or written. `null`: none. A
   * function is called once, as the store opens, for the key (from a KMS or the OS keychain).
   */
  encryption?: EncryptionSource | null
}

/**
 * The key of an encrypted store: one of `key` or `passphrase`. There is no way back from a
 * lost key: keep it as carefully as the store.
 */
/**
 * A key, or a function that fetches it when the store opens (a KMS, the OS keychain); its
 * rejection rejects the open as it is.
 */
export type EncryptionSource = EncryptionOptions | (() => EncryptionOptions | Promise<EncryptionOptions>)

export interface EncryptionOptions {
  /** 32 random bytes, as a Buffer or as hex (64 digits) or base64 text (`openssl rand -base64 32`). */
  key?: Uint8Array | string
  /** A passphrase, stretched with Argon2id (64 MiB, 3 passes) and the store's own salt, once per open. */
  passphrase?: string
}

/**
 * Opens a store; each call opens a new one. URLs: `sqlite:PATH`, `sqlite://PATH`, a plain
 * file path, `sqlite::memory:`, `memory:`, `redis://[user:pass@]host:port[/db]`,
 * `rediss://…` (TLS), `redis+unix:///path.sock`, `redis+cluster://host:port,host:port`,
 * `postgres://[user:pass@]host[:port]/db[?sslmode=…&schema=…]` (or `postgresql://`; a unix
 * socket as `?host=/dir`), `mysql://[user:pass@]host[:port]/db[?tablePrefix=…]` (or
 * `mariadb://`).
 * Default: env `BAILEYS_AUTH_STORE`, else `sqlite:./baileys-auth.db`.
 */
export declare function openStore(url?: string, options?: OpenStoreOptions): Promise<AuthStore>

/** Options of `encryptStore` and `decryptStore`. */
export interface ConvertStoreOptions {
  /** The store's URL, as `openStore` takes it. Default: env `BAILEYS_AUTH_STORE`, else `sqlite:./baileys-auth.db`. */
  store?: string
  /**
   * The store's key: the one to encrypt it with (`encryptStore`), or the one it is encrypted
   * with (`decryptStore`; another key rejects with `ERR_STORE_KEY`).
   */
  key: EncryptionOptions
  /** Options of the store as `openStore` takes them, but `encryption` and `create` (it must exist). */
  storeOptions?: Omit<OpenStoreOptions, 'encryption' | 'create'>
  /**
   * Called after each session converted (`session` is its own id, never a hash); the
   * conversion waits for it to return. An error it throws is ignored.
   */
  onProgress?: (progress: { session: string; done: number; total: number }) => void
}

/**
 * Encrypts a plain store in place (docs/encryption.md, "Converting a whole store"): every
 * session is moved under its hashed name, sealed, read back and compared, then its plain copy
 * and its lease record are deleted, so that the store holds no session id nor value in the
 * clear afterwards (a SQLite file is also vacuumed). Applications must be stopped: a session
 * with a live lease rejects with `ERR_SESSION_LOCKED` (with `err.owner`) before anything is
 * written. While it runs, the store opens neither way (`ERR_STORE_UNAVAILABLE`); if it stops
 * (killed, a lost connection), run it again: it resumes. A store already encrypted with this
 * key is left as it is; with another, `ERR_STORE_KEY`. Resolves with the number of sessions
 * the store holds.
 */
export declare function encryptStore(options: ConvertStoreOptions): Promise<{ sessions: number }>

/**
 * Makes an encrypted store plain again, in place: the reverse of `encryptStore`, with the same
 * rules (applications stopped, resumable, the store closed to applications while it runs).
 * A store that is not encrypted rejects with `ERR_STORE_KEY`. Resolves with the number of
 * sessions the store holds.
 */
export declare function decryptStore(options: ConvertStoreOptions): Promise<{ sessions: number }>

export interface UseRustAuthStateOptions {
  /**
   * A store URL or an open store. URLs share one open store per URL in the process.
   * Default: env `BAILEYS_AUTH_STORE`, else `sqlite:./baileys-auth.db`.
   */
  store?: string | AuthStore
  /**
   * Your Baileys module (for forks, or when `baileys` cannot be imported from here).
   * Default: `import('baileys')`, then `import('@whiskeysockets/baileys')`.
   */
  baileys?: object
  /**
   * Own the session (docs/ownership.md): default `true` for stores other processes can open
   * (SQLite files, Redis), `false` for `memory:` and `sqlite::memory:`. `false` is unsafe for
   * fleets: nothing then stops two processes writing one session.
   */
  lease?: boolean
  /** How long the lease lives without renewal, in ms (1000 to 86400000); renewed every third of it. Default 30000. */
  leaseMs?: number
  /** Take the session even if another process owns it; that owner's next write rejects `ERR_SESSION_FENCED`. */
  takeover?: boolean
  /** Called once, with the `ERR_SESSION_FENCED` error, when this handle loses the session: end the socket. */
  onLost?: (err: AuthStoreError) => void
  /** The owner's cache bound, in bytes of values (default 8 MiB); 0 turns it off. Owners only. */
  cacheBytes?: number
  /**
   * The key of the store the URL names (see `OpenStoreOptions.encryption`). Default: env
   * `BAILEYS_AUTH_KEY` (32 bytes as hex or base64) when it is set, else none. Not with an
   * `AuthStore` as `store`: that store was opened with its own.
   */
  encryption?: EncryptionSource | null
}

/** `RustAuthState.stats()`. */
export interface AuthStateStats {
  session: string
  /** This handle's lease, or `null` without one. */
  lease: { epoch: number; leaseMs: number; expiresAt: Date; lost: boolean } | null
  /** The owner's cache, or `null` without one. */
  cache: { entries: number; bytes: number; maxBytes: number; hits: number; misses: number; hitRate: number } | null
}

export interface RustAuthState {
  state: RustAuthenticationState
  /** Saves the current `state.creds`; wire it to `sock.ev.on('creds.update', saveCreds)`. */
  saveCreds(): Promise<void>
  /**
   * Releases this session: its later calls reject with `ERR_STORE_CLOSED`. A store that
   * `useRustAuthState` opened from a URL closes when its last session is released (after
   * finishing what was issued); a store you passed in stays open. Calling it again is harmless.
   */
  close(): Promise<void>
  /** The store holding this session (shared with the other sessions on its URL). */
  store: AuthStore
  /**
   * Resolves (never rejects) with the `ERR_SESSION_FENCED` error once this handle has lost the
   * session: taken over, or its lease not renewed in time. End the socket then. Without a lease
   * it never settles.
   */
  lost: Promise<AuthStoreError>
  /** This handle's lease and cache (size, hits, hit rate). */
  stats(): AuthStateStats
  /** Deletes this session's creds and keys (logout), as its owner. */
  deleteSession(): Promise<void>
}

/** A drop-in for Baileys' `useMultiFileAuthState`, backed by a native store. */
export declare function useRustAuthState(sessionId: string, options?: UseRustAuthStateOptions): Promise<RustAuthState>
