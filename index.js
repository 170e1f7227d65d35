'use strict'
// The public API: a drop-in for Baileys' useMultiFileAuthState over the native store.
// Everything that touches the disk runs in Rust, off the JavaScript thread; this file only
// wires Baileys' AuthenticationState shape onto it. Types and docs: index.d.ts.

const path = require('node:path')
const { NativeStore } = require('./lib/native.js')
const codec = require('./lib/codec.js')
const wire = require('./lib/wire.js')
const transfer = require('./lib/transfer.js')
const { track } = require('./lib/spin.js')
const { defaultStoreUrl } = require('./lib/default-store.js')
const { ErrorCodes, isAuthStoreError, storeError } = require('./lib/errors.js')


function assertSessionId(sessionId) {
  if (typeof sessionId !== 'string' || sessionId === '') {
    throw storeError(ErrorCodes.INVALID_ARG, 'sessionId must be a non-empty string')
  }
}

/**
 * A copy of keys.get's ids, checked as it is made: every item a string. A hole or another value
 * ends it at once, so a sparse array of 2^32-1 holes costs nothing. Anything but an array is
 * left for the native side to refuse.
 */
function copyIds(ids) {
  try {
    if (!Array.isArray(ids)) return ids
    const copy = new Array(ids.length)
    for (let i = 0; i < copy.length; i++) {
      const id = ids[i]
      if (typeof id !== 'string') throw storeError(ErrorCodes.INVALID_ARG, 'ids must be an array of strings')
      copy[i] = id
    }
    return copy
  } catch (err) {
    if (err?.code === ErrorCodes.INVALID_ARG) throw err
    throw storeError(ErrorCodes.INVALID_ARG, `ids cannot be read: reading it threw ${err}`, err) // a hostile getter or Proxy
  }
}

/** The native store of an AuthStore, for this module's tools (set in AuthStore's static block). */
let nativeOf

/**
 * One open store: a SQLite database (or another backend) holding any number of sessions.
 * Create it with `openStore`; `useRustAuthState` opens one for you.
 */
class AuthStore {
  #native
  #url
  #onClose

  static {
    nativeOf = (store) => store.#native
  }

  /** @internal use openStore() */
  constructor(native, url, onClose) {
    this.#native = native
    this.#url = url
    this.#onClose = onClose
  }

  /** The URL this store was opened with. */
  get url() {
    return this.#url
  }

  /** Whether close() has been called. */
  get closed() {
    return this.#native.closed
  }

  /** Every session that has creds or keys, sorted. */
  sessions() {
    return this.#native.sessions()
  }

  /** Removes a session's creds and keys, atomically. */
  async deleteSession(sessionId) {
    assertSessionId(sessionId)
    return this.#native.deleteSession(sessionId)
  }

  /**
   * Checks the store's consistency (SQLite: integrity_check and foreign keys).
   * Resolves to the problems found: an empty array when the store is sound.
   */
  check() {
    return this.#native.check()
  }

  /**
   * What a session holds: keys and bytes per type, creds, and the last write (to the second).
   * An unknown session has no creds and no keys.
   */
  async stats(sessionId) {
    assertSessionId(sessionId)
    const raw = wire.readStats(await this.#native.stats(sessionId))
    const keys = {}
    let totalKeys = 0
    let totalBytes = 0
    for (const type of Object.keys(raw.types).sort()) {
      const { count, bytes } = raw.types[type]
      codec.setEntry(keys, type, { count, bytes }) // a type named '__proto__' is a type like any other
      totalKeys += count
      totalBytes += bytes
    }
    return {
      session: sessionId,
      credsPresent: raw.credsBytes !== null,
      credsBytes: raw.credsBytes ?? 0,
      keys,
      totalKeys,
      totalBytes: totalBytes + (raw.credsBytes ?? 0),
      lastWriteAt: raw.updatedAt === null ? null : new Date(raw.updatedAt),
    }
  }

  /** Every key of a session, `[{ type, id, bytes }]` sorted by type and id (no values). */
  async listKeys(sessionId) {
    assertSessionId(sessionId)
    return transfer.listStoreKeys(this.#native, sessionId)
  }

  /**
   * Copies the whole store, consistently, to a new SQLite file at `file` while it stays in
   * use (SQLite stores only; others reject with ERR_UNSUPPORTED). `file` is replaced
   * atomically: it is always either the old file or a complete copy.
   */
  async backup(file) {
    if (typeof file !== 'string' || file === '') throw storeError(ErrorCodes.INVALID_ARG, 'backup path must be a non-empty string')
    return this.#native.backup(path.resolve(file))
  }

  /** Waits for every operation issued before it, then closes. Later calls reject with ERR_STORE_CLOSED. */
  close() {
    if (this.#onClose) this.#onClose(this)
    return this.#native.close()
  }

  // The per-session operations below are what useRustAuthState is made of; they are public
  // for tools and for applications that wire their own AuthenticationState.

  /** The session's saved creds, or null. */
  async getCreds(sessionId) {
    const blob = await track(this.#native.getCreds(sessionId), 'read')
    if (blob === null) return null
    const creds = codec.decodeValue(blob)
    if (typeof creds !== 'object' || creds === null || Array.isArray(creds)) {
      throw storeError(ErrorCodes.STORE_CORRUPT, `saved creds of session ${JSON.stringify(sessionId)} are not an object`)
    }
    return creds
  }

  /** Saves the session's creds atomically, as they are at the time of the call. */
  async setCreds(sessionId, creds) {
    if (typeof creds !== 'object' || creds === null || Array.isArray(creds)) {
      throw storeError(ErrorCodes.INVALID_ARG, 'creds must be an object')
    }
    return track(this.#native.setCreds(sessionId, codec.encodeCreds(creds)), 'write')
  }

  /** Like SignalKeyStore.get: every id is a key of the result, missing ones map to null. */
  async getKeys(sessionId, type, ids) {
    // The answer is keyed by the ids as they are now: the caller may change its array before
    // the read finishes.
    const asked = copyIds(ids)
    const results = await track(this.#native.getKeys(sessionId, type, asked), 'read')
    return wire.decodeResults(results, asked)
  }

  /** Like SignalKeyStore.set: one atomic batch; null or undefined deletes. */
  async setKeys(sessionId, data) {
    return track(this.#native.setKeys(sessionId, wire.encodeBatch(data)), 'write')
  }

  /** Removes every key of the session, keeping its creds. */
  clearKeys(sessionId) {
    return track(this.#native.clearKeys(sessionId), 'write')
  }
}

/**
 * Opens a store. Each call opens a new one; close it when done.
 * @param {string} [url] `sqlite:PATH`, `sqlite://PATH`, a file path, `sqlite::memory:`,
 *   `memory:`, `redis://…`, `rediss://…`, `redis+unix://…` or `redis+cluster://…`;
 *   default: env BAILEYS_AUTH_STORE, else `sqlite:./baileys-auth.db`.
 * @param {object} [options] for Redis: keyPrefix, connectTimeoutMs, commandTimeoutMs, ttlSeconds.
 */
async function openStore(url = defaultStoreUrl(), options = {}) {
  if (typeof url !== 'string' || url === '') {
    throw storeError(ErrorCodes.INVALID_ARG, 'store URL must be a non-empty string')
  }
  if (options === null || typeof options !== 'object') {
    throw storeError(ErrorCodes.INVALID_ARG, 'options must be an object')
  }
  return new AuthStore(await NativeStore.open(url, options), url, null)
}

// useRustAuthState shares one open store per store, so that a thousand sessions on the
// default store use one database connection, not a thousand. A store is what it holds (a
// file's device and inode, a Redis server, database and key prefix: `native.identity`), so
// `./auth.db` and `sqlite:///abs/auth.db` share one; URLs only find an open store quickly.
// Each session holds a reference, and the store closes when the last one is released.

/** identity -> { store: AuthStore, users, urlKeys } */
const sharedByIdentity = new Map()
/** URL key -> Promise of the entry above, for the URLs that opened or found it */
const sharedByUrl = new Map()

/** A URL's key in `sharedByUrl`: file paths made absolute. */
function sharedStoreKey(url) {
  if (url === 'sqlite::memory:' || url.startsWith('memory:')) return url
  let file = url
  if (url.startsWith('sqlite:')) file = url.slice('sqlite:'.length).replace(/^\/\//, '')
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url
  return `sqlite:${path.resolve(file)}`
}

function forgetShared(entry) {
  if (sharedByIdentity.get(entry.identity) === entry) sharedByIdentity.delete(entry.identity)
  for (const key of entry.urlKeys) sharedByUrl.delete(key)
}

/** Opens the store `url` names, or finds it open; resolves to its entry (not yet counted). */
function findOrOpenShared(url) {
  const key = sharedStoreKey(url)
  let found = sharedByUrl.get(key)
  if (!found) {
    found = NativeStore.open(url).then(async (native) => {
      const open = sharedByIdentity.get(native.identity)
      if (open && !open.store.closed) {
        // The same store through another URL: use the one already open.
        await native.close()
        open.urlKeys.add(key)
        return open
      }
      const entry = { identity: native.identity, users: 0, urlKeys: new Set([key]), store: undefined }
      // An explicit store.close() closes it for every session: forget it, so the next
      // useRustAuthState opens it anew.
      entry.store = new AuthStore(native, url, () => forgetShared(entry))
      sharedByIdentity.set(entry.identity, entry)
      return entry
    })
    found.catch(() => {
      if (sharedByUrl.get(key) === found) sharedByUrl.delete(key)
    })
    sharedByUrl.set(key, found)
  }
  return found
}

/** A counted reference to the shared store of `url`; `release()` gives it back. */
async function acquireShared(url) {
  if (typeof url !== 'string' || url === '') {
    throw storeError(ErrorCodes.INVALID_ARG, 'options.store must be a URL string or an AuthStore')
  }
  let entry = await findOrOpenShared(url)
  // Closed meanwhile by its last session or by an explicit close(): open it again.
  while (entry.store.closed) {
    forgetShared(entry)
    entry = await findOrOpenShared(url)
  }
  entry.users++
  return {
    store: entry.store,
    release() {
      if (--entry.users > 0) return Promise.resolve()
      forgetShared(entry)
      return entry.store.close()
    },
  }
}

let defaultBaileys
function loadBaileys(baileys) {
  if (baileys !== undefined) {
    let initAuthCreds
    try {
      initAuthCreds = baileys?.initAuthCreds
    } catch {}
    if (typeof initAuthCreds !== 'function') {
      return Promise.reject(
        storeError(ErrorCodes.INVALID_ARG, 'options.baileys must be the Baileys module (it has initAuthCreds)'),
      )
    }
    return Promise.resolve(baileys)
  }
  defaultBaileys ??= import('baileys')
    .catch(() => import('@whiskeysockets/baileys'))
    .catch(() => {
      defaultBaileys = undefined
      throw storeError(
        ErrorCodes.INVALID_ARG,
        "cannot load Baileys: install 'baileys' (or '@whiskeysockets/baileys'), or pass your Baileys module as options.baileys",
      )
    })
  return defaultBaileys
}

/**
 * A drop-in for Baileys' useMultiFileAuthState, backed by a native store.
 *
 *     const { state, saveCreds } = await useRustAuthState('session-id')
 */
async function useRustAuthState(sessionId, options = {}) {
  assertSessionId(sessionId)
  if (options === null || typeof options !== 'object') {
    throw storeError(ErrorCodes.INVALID_ARG, 'options must be an object')
  }
  let storeOption, baileysOption
  try {
    ;({ store: storeOption, baileys: baileysOption } = options)
  } catch (cause) {
    throw storeError(ErrorCodes.INVALID_ARG, 'options cannot be read', cause)
  }
  const shared = storeOption instanceof AuthStore ? null : await acquireShared(storeOption ?? defaultStoreUrl())
  const store = shared?.store ?? storeOption
  let creds, appStateSyncKey
  try {
    const baileys = await loadBaileys(baileysOption)
    appStateSyncKey = baileys.proto?.Message?.AppStateSyncKeyData
    creds = (await store.getCreds(sessionId)) ?? baileys.initAuthCreds()
  } catch (err) {
    await shared?.release()
    throw err
  }

  let closing
  /** Every call of this session first checks that it was not released. */
  const open = () => {
    if (closing) throw storeError(ErrorCodes.STORE_CLOSED, `session ${JSON.stringify(sessionId)} was closed`)
  }
  const state = {
    creds,
    keys: {
      async get(type, ids) {
        open()
        const values = await store.getKeys(sessionId, type, ids)
        // Baileys expects this type as a protobuf message, as its own store revives it.
        if (type === 'app-state-sync-key' && appStateSyncKey) {
          for (const id of Object.keys(values)) {
            if (values[id] !== null) values[id] = appStateSyncKey.fromObject(values[id])
          }
        }
        return values
      },
      async set(data) {
        open()
        return store.setKeys(sessionId, data)
      },
      async clear() {
        open()
        return store.clearKeys(sessionId)
      },
    },
  }
  // Writes state.creds as it is when called; the store applies calls in order, so of
  // overlapping calls the latest state wins.
  const saveCreds = async () => {
    open()
    return store.setCreds(sessionId, state.creds)
  }
  // Releases this session only: other sessions on the same store go on. Calls issued before
  // it still complete (the store finishes them before it closes).
  const close = () => (closing ??= shared ? shared.release() : Promise.resolve())
  return { state, saveCreds, close, store }
}

/** Runs `work` on the store an option names: an AuthStore as is, a URL opened and closed here. */
async function withStore(store, what, work, storeOptions) {
  if (store instanceof AuthStore) return work(store)
  if (typeof store !== 'string' || store === '') {
    throw storeError(ErrorCodes.INVALID_ARG, `${what} must be a store URL or an AuthStore`)
  }
  const opened = await openStore(store, storeOptions)
  try {
    return await work(opened)
  } finally {
    await opened.close()
  }
}

function transferOptions(options, names) {
  if (options === null || typeof options !== 'object') throw storeError(ErrorCodes.INVALID_ARG, 'options must be an object')
  const { batchSize = transfer.DEFAULT_BATCH_SIZE, onProgress, overwrite = false } = options
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100000) {
    throw storeError(ErrorCodes.INVALID_ARG, 'options.batchSize must be an integer from 1 to 100000')
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw storeError(ErrorCodes.INVALID_ARG, 'options.onProgress must be a function')
  }
  if (typeof overwrite !== 'boolean') throw storeError(ErrorCodes.INVALID_ARG, 'options.overwrite must be a boolean')
  for (const name of Object.keys(options)) {
    if (!names.includes(name)) throw storeError(ErrorCodes.INVALID_ARG, `unknown option ${JSON.stringify(name)}`)
  }
  return { batchSize, onProgress, overwrite }
}

/**
 * Imports a useMultiFileAuthState folder into a store as one session, exactly: creds and
 * every key file, ids un-mangled per type and 6.7-era values normalised. The folder is only
 * read. Re-running an interrupted import resumes it; the import ends by verifying the
 * session both ways. Resolves to `{ session, keys, written, unchanged, removed, problems }`,
 * `problems` naming every file that could not be imported and why.
 */
async function importFolder(folder, options = {}) {
  const { session, store = defaultStoreUrl(), types = [], storeOptions } = options ?? {}
  const opts = transferOptions(options ?? {}, ['session', 'store', 'types', 'storeOptions', 'batchSize', 'onProgress', 'overwrite'])
  assertSessionId(session)
  if (typeof folder !== 'string' || folder === '') throw storeError(ErrorCodes.INVALID_ARG, 'folder must be a non-empty string')
  if (!Array.isArray(types) || !types.every((t) => typeof t === 'string' && t !== '')) {
    throw storeError(ErrorCodes.INVALID_ARG, 'options.types must be an array of key type names')
  }
  const source = await transfer.folderSource(folder, { types })
  return withStore(store, 'options.store', (target) => transfer.copySession(source, nativeOf(target), session, opts), storeOptions)
}

/**
 * Writes a session as a folder that Baileys' useMultiFileAuthState opens. The folder must not
 * exist or be empty; it appears complete and verified, or not at all.
 */
async function exportFolder(folder, options = {}) {
  const { session, store = defaultStoreUrl(), storeOptions } = options ?? {}
  const opts = transferOptions(options ?? {}, ['session', 'store', 'storeOptions', 'batchSize', 'onProgress'])
  assertSessionId(session)
  if (typeof folder !== 'string' || folder === '') throw storeError(ErrorCodes.INVALID_ARG, 'folder must be a non-empty string')
  return withStore(store, 'options.store', (source) => transfer.exportSession(nativeOf(source), session, folder, opts), storeOptions)
}

/**
 * Whether two store identities (see NativeStore.identity) might name one store: both Redis,
 * and at least one of them unverified (its server would not say what it is).
 */
function mayBeOneStore(a, b) {
  const kind = (identity) => identity.replace(/^unverified:/, '').split(':')[0]
  const redis = (identity) => kind(identity) === 'redis' || kind(identity) === 'redis-cluster'
  return redis(a) && redis(b) && (a.startsWith('unverified:') || b.startsWith('unverified:'))
}

/**
 * Copies sessions from one store to another, byte for byte, each verified both ways: one
 * session (`options.session`) or all of them. Resolves to `{ sessions: [result, …], skipped }`; migrating
 * all sessions skips (and lists) sessions that have keys but no creds. A session that fails does
 * not stop the others: the call then rejects with the first failure's code, `err.failures`
 * (`[{ session, code, message, mismatches }]`, every one) and `err.result` (what was copied).
 */
async function migrate(options = {}) {
  const { from, to, session, fromOptions, toOptions } = options ?? {}
  const opts = transferOptions(options ?? {}, ['from', 'to', 'session', 'fromOptions', 'toOptions', 'batchSize', 'onProgress', 'overwrite'])
  if (session !== undefined) assertSessionId(session)
  if (typeof from === 'string' && from === to) throw storeError(ErrorCodes.INVALID_ARG, 'options.from and options.to are the same store')
  return withStore(from, 'options.from', (source) =>
    withStore(to, 'options.to', async (target) => {
      // One store under two names (two paths of one file, two URLs of one Redis): copying it
      // onto itself with overwrite would delete what it copies.
      const [a, b] = [nativeOf(source).identity, nativeOf(target).identity]
      if (a === b) throw storeError(ErrorCodes.INVALID_ARG, 'options.from and options.to are the same store')
      if (opts.overwrite && mayBeOneStore(a, b)) {
        throw storeError(
          ErrorCodes.INVALID_ARG,
          'cannot tell whether options.from and options.to are the same Redis (the server does not let this user run INFO), ' +
            'and overwrite would then delete what it copies: migrate without overwrite, or as a user allowed to run INFO',
        )
      }
      const names = session === undefined ? await source.sessions() : [session]
      const sessions = []
      const skipped = []
      const failures = []
      for (const name of names) {
        // Keys without creds are an unfinished import or a broken session: not one to copy.
        if (session === undefined && (await nativeOf(source).getCreds(name)) === null) {
          skipped.push({ session: name, reason: 'it has keys but no creds' })
          continue
        }
        try {
          const from = await transfer.storeSource(nativeOf(source), name)
          sessions.push(await transfer.copySession(from, nativeOf(target), name, opts))
        } catch (err) {
          if (session !== undefined || !isAuthStoreError(err)) throw err
          // One session failing leaves the others to copy; all failures are reported at the end.
          failures.push({ session: name, code: err.code, message: err.message, mismatches: err.mismatches ?? [] })
        }
      }
      if (failures.length > 0) {
        const err = storeError(
          failures[0].code,
          `${failures.length} of ${names.length - skipped.length} sessions could not be migrated: ` +
            failures.map((f) => `${JSON.stringify(f.session)}: ${f.message}`).join('; '),
        )
        err.failures = failures
        err.result = { sessions, skipped }
        throw err
      }
      return { sessions, skipped }
    }, toOptions),
  fromOptions)
}

module.exports = {
  useRustAuthState,
  openStore,
  AuthStore,
  importFolder,
  exportFolder,
  migrate,
  ErrorCodes,
  isAuthStoreError,
}
