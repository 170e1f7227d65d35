'use strict'
// The public API: a drop-in for Baileys' useMultiFileAuthState over the native store.
// Everything that touches the disk runs in Rust, off the JavaScript thread; this file only
// wires Baileys' AuthenticationState shape onto it. Types and docs: index.d.ts.

const path = require('node:path')
const { NativeStore } = require('./binding.js')
const codec = require('./lib/codec.js')
const { ErrorCodes, isAuthStoreError, storeError } = require('./lib/errors.js')

const DEFAULT_STORE_URL = 'sqlite:./baileys-auth.db'

function defaultStoreUrl() {
  return process.env.BAILEYS_AUTH_STORE || DEFAULT_STORE_URL
}

function assertSessionId(sessionId) {
  if (typeof sessionId !== 'string' || sessionId === '') {
    throw storeError(ErrorCodes.INVALID_ARG, 'sessionId must be a non-empty string')
  }
}

/**
 * One open store: a SQLite database (or another backend) holding any number of sessions.
 * Create it with `openStore`; `useRustAuthState` opens one for you.
 */
class AuthStore {
  #native
  #url
  #onClose

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

  /** Waits for every operation issued before it, then closes. Later calls reject with ERR_STORE_CLOSED. */
  close() {
    if (this.#onClose) this.#onClose(this)
    return this.#native.close()
  }

  // The per-session operations below are what useRustAuthState is made of; they are public
  // for tools and for applications that wire their own AuthenticationState.

  /** The session's saved creds, or null. */
  async getCreds(sessionId) {
    const blob = await this.#native.getCreds(sessionId)
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
    return this.#native.setCreds(sessionId, codec.encodeCreds(creds))
  }

  /** Like SignalKeyStore.get: every id is a key of the result, missing ones map to null. */
  async getKeys(sessionId, type, ids) {
    const results = await this.#native.getKeys(sessionId, type, ids)
    return codec.decodeResults(results, ids)
  }

  /** Like SignalKeyStore.set: one atomic batch; null or undefined deletes. */
  async setKeys(sessionId, data) {
    return this.#native.setKeys(sessionId, codec.encodeBatch(data))
  }

  /** Removes every key of the session, keeping its creds. */
  clearKeys(sessionId) {
    return this.#native.clearKeys(sessionId)
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

// useRustAuthState shares one open store per URL, so that a thousand sessions on the
// default store use one database connection, not a thousand.
const sharedStores = new Map()

/** The key under which a URL's store is shared: file paths made absolute. */
function sharedStoreKey(url) {
  if (url === 'sqlite::memory:' || url.startsWith('memory:')) return url
  let file = url
  if (url.startsWith('sqlite:')) file = url.slice('sqlite:'.length).replace(/^\/\//, '')
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url
  return `sqlite:${path.resolve(file)}`
}

function sharedStore(url) {
  if (typeof url !== 'string' || url === '') {
    throw storeError(ErrorCodes.INVALID_ARG, 'options.store must be a URL string or an AuthStore')
  }
  const key = sharedStoreKey(url)
  let opening = sharedStores.get(key)
  if (!opening) {
    const forget = (store) => {
      if (sharedStores.get(key) === opening) sharedStores.delete(key)
    }
    opening = NativeStore.open(url).then(
      (native) => new AuthStore(native, url, forget),
      (err) => {
        forget()
        throw err
      },
    )
    sharedStores.set(key, opening)
  }
  return opening
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
  const store = storeOption instanceof AuthStore ? storeOption : await sharedStore(storeOption ?? defaultStoreUrl())
  const baileys = await loadBaileys(baileysOption)
  const appStateSyncKey = baileys.proto?.Message?.AppStateSyncKeyData

  const state = {
    creds: (await store.getCreds(sessionId)) ?? baileys.initAuthCreds(),
    keys: {
      async get(type, ids) {
        const values = await store.getKeys(sessionId, type, ids)
        // Baileys expects this type as a protobuf message, as its own store revives it.
        if (type === 'app-state-sync-key' && appStateSyncKey) {
          for (const id of Object.keys(values)) {
            if (values[id] !== null) values[id] = appStateSyncKey.fromObject(values[id])
          }
        }
        return values
      },
      set: (data) => store.setKeys(sessionId, data),
      clear: () => store.clearKeys(sessionId),
    },
  }
  // Writes state.creds as it is when called; the store applies calls in order, so of
  // overlapping calls the latest state wins.
  const saveCreds = () => store.setCreds(sessionId, state.creds)
  return { state, saveCreds, store }
}

module.exports = { useRustAuthState, openStore, AuthStore, ErrorCodes, isAuthStoreError }
