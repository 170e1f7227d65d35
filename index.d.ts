/**
 * baileys-rust-auth: a production-grade auth state store for Baileys, written in Rust.
 *
 * ```ts
 * const { state, saveCreds } = await useRustAuthState('session-id')
 * const sock = makeWASocket({ auth: state })
 * sock.ev.on('creds.update', saveCreds)
 * ```
 */

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
  /** The disk or database engine failed: disk full, permissions, missing directory, locks. */
  readonly STORE_IO: 'ERR_STORE_IO'
  /** A networked store (Redis) cannot be reached within its timeouts; the same call may succeed later. */
  readonly STORE_UNAVAILABLE: 'ERR_STORE_UNAVAILABLE'
}

export type AuthStoreErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/** An error raised by this package. */
export interface AuthStoreError extends Error {
  code: AuthStoreErrorCode
}

/** Whether `err` is an error of this package (it has one of the `ErrorCodes`). */
export declare function isAuthStoreError(err: unknown): err is AuthStoreError

/**
 * Baileys' key store interface (`SignalKeyStore`), typed loosely so that it fits every
 * Baileys version and fork. Values come back as Baileys' own file store returns them.
 */
export interface RustSignalKeyStore {
  /** Every requested id is a key of the result; a missing id maps to `null`. */
  get(type: string, ids: string[]): Promise<{ [id: string]: any }>
  /** One atomic batch across all types and ids; `null` or `undefined` deletes a key. */
  set(data: { [type: string]: { [id: string]: unknown } | null | undefined }): Promise<void>
  /** Removes every key of this session (not its creds). */
  clear(): Promise<void>
}

/** Baileys' `AuthenticationState`: pass it as `makeWASocket({ auth: state })`. */
export interface RustAuthenticationState {
  /** Baileys' `AuthenticationCreds`: the saved ones, or fresh ones from `initAuthCreds()`. */
  creds: any
  keys: RustSignalKeyStore
}

/** A store holding any number of sessions. */
export declare class AuthStore {
  private constructor()
  /** The URL this store was opened with. */
  readonly url: string
  /** Whether `close()` has been called. */
  readonly closed: boolean
  /** Every session that has creds or keys, sorted. */
  sessions(): Promise<string[]>
  /** Removes a session's creds and all its keys, atomically. */
  deleteSession(sessionId: string): Promise<void>
  /** Checks the store's consistency (SQLite: integrity_check and foreign keys); resolves to the problems found, `[]` when sound. */
  check(): Promise<string[]>
  /**
   * Finishes every operation issued before it, then closes. Later calls reject with
   * `ERR_STORE_CLOSED`. A store shared by `useRustAuthState` is closed for all its sessions.
   */
  close(): Promise<void>

  /** The session's saved creds, or `null`. */
  getCreds(sessionId: string): Promise<any | null>
  /** Saves the session's creds atomically. */
  setCreds(sessionId: string, creds: object): Promise<void>
  /** `SignalKeyStore.get` for one session (without `app-state-sync-key` revival). */
  getKeys(sessionId: string, type: string, ids: string[]): Promise<{ [id: string]: any }>
  /** `SignalKeyStore.set` for one session: one atomic batch. */
  setKeys(sessionId: string, data: { [type: string]: { [id: string]: unknown } | null | undefined }): Promise<void>
  /** Removes every key of the session, keeping its creds. */
  clearKeys(sessionId: string): Promise<void>
}

/** Options of `openStore`; all of them apply to Redis stores only. */
export interface OpenStoreOptions {
  /** Every Redis key starts with `<keyPrefix>:`. Default `'baileys'`. */
  keyPrefix?: string
  /** How long connecting (and reconnecting) may take, in ms. Default 5000. */
  connectTimeoutMs?: number
  /** How long one operation may take before it rejects with `ERR_STORE_UNAVAILABLE`, in ms. Default 5000. */
  commandTimeoutMs?: number
  /**
   * Off by default. When set, a session's creds and all its keys expire together this many
   * seconds after the session was last used; every access refreshes them all.
   */
  ttlSeconds?: number
}

/**
 * Opens a store; each call opens a new one. URLs: `sqlite:PATH`, `sqlite://PATH`, a plain
 * file path, `sqlite::memory:`, `memory:`, `redis://[user:pass@]host:port[/db]`,
 * `rediss://…` (TLS), `redis+unix:///path.sock`, `redis+cluster://host:port,host:port`.
 * Default: env `BAILEYS_AUTH_STORE`, else `sqlite:./baileys-auth.db`.
 */
export declare function openStore(url?: string, options?: OpenStoreOptions): Promise<AuthStore>

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
}

export interface RustAuthState {
  state: RustAuthenticationState
  /** Saves the current `state.creds`; wire it to `sock.ev.on('creds.update', saveCreds)`. */
  saveCreds(): Promise<void>
  /** The store holding this session. */
  store: AuthStore
}

/** A drop-in for Baileys' `useMultiFileAuthState`, backed by a native store. */
export declare function useRustAuthState(sessionId: string, options?: UseRustAuthStateOptions): Promise<RustAuthState>
