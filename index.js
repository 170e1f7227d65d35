'use strict'
// The public API: a drop-in for Baileys' useMultiFileAuthState over the native store, and the
// rest of the package re-exported. Everything that touches the disk runs in Rust, off the
// JavaScript thread; this file only wires Baileys' AuthenticationState shape onto a store
// (lib/store.js), shared per store (lib/shared-stores.js). Types and docs: index.d.ts.

const args = require('./lib/args.js')
const { AuthStore, openStore } = require('./lib/store.js')
const { acquireShared } = require('./lib/shared-stores.js')
const { importFolder, exportFolder, migrate } = require('./lib/transfer/migrate.js')
const { defaultStoreUrl } = require('./lib/default-store.js')
const { ErrorCodes, isAuthStoreError, storeError } = require('./lib/errors.js')
const { SessionLease } = require('./lib/ownership.js')
const { OwnerCache } = require('./lib/owner-cache.js')
const { setEntry } = require('./lib/codec.js')

let defaultBaileys
function loadBaileys(baileys) {
  if (baileys !== undefined) return Promise.resolve(args.baileysModule(baileys))
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

/** Whether a store is shared between processes, and so leased by default (docs/ownership.md). */
function sharedBetweenProcesses(store) {
  return ['sqlite-file', 'redis', 'redis-cluster'].includes(args.storeUrl(store.url).kind)
}

/**
 * A drop-in for Baileys' useMultiFileAuthState, backed by a native store.
 *
 *     const { state, saveCreds } = await useRustAuthState('session-id')
 *
 * On a store other processes can open (a SQLite file, Redis) the handle owns the session: it
 * takes the session's lease before it returns, and every write carries the lease's fence
 * (docs/ownership.md). Its cache answers reads of values it wrote or read.
 */
async function useRustAuthState(sessionId, options = {}) {
  args.sessionId(sessionId)
  const given = args.authStateOptions(options)
  const { store: storeOption, baileys: baileysOption } = given
  // A Baileys module given is checked before the store is opened (opening may create its file).
  if (baileysOption !== undefined) args.baileysModule(baileysOption)
  const shared = args.isAuthStore(storeOption, AuthStore, 'options.store') ? null : await acquireShared(storeOption ?? defaultStoreUrl())
  const store = shared?.store ?? storeOption
  let creds, appStateSyncKey
  let lease = null
  try {
    const baileys = await loadBaileys(baileysOption)
    appStateSyncKey = baileys.proto?.Message?.AppStateSyncKeyData
    if (given.lease ?? sharedBetweenProcesses(store)) {
      lease = await SessionLease.acquire(store, sessionId, { leaseMs: given.leaseMs, takeover: given.takeover, onLost: given.onLost })
    }
    // Read as the owner: nobody else writes the session from here on.
    creds = (await store.getCreds(sessionId)) ?? baileys.initAuthCreds()
  } catch (err) {
    await lease?.release()
    await shared?.release()
    throw err
  }
  // Only an owner may cache: it is the session's only writer.
  const cache = lease && given.cacheBytes !== 0 ? new OwnerCache(given.cacheBytes) : null
  // However the session is lost (a fenced write, a takeover in this process, a lapsed lease), the cache goes with it.
  lease?.lost.then(() => cache?.clear())

  let closing
  /** Every call of this session first checks that it was neither released nor lost. */
  const open = () => {
    if (closing || store.closed) throw storeError(ErrorCodes.STORE_CLOSED, `session ${JSON.stringify(sessionId)} was closed`)
    if (lease?.isLost) void lease.fence // throws ERR_SESSION_FENCED
  }
  /** Runs a write of the handle; a fenced one loses the session (and the cache with it). */
  const write = async (call) => {
    try {
      return await call(lease?.fence)
    } catch (err) {
      if (err?.code === ErrorCodes.SESSION_FENCED && lease) lease.lose(err)
      throw err
    }
  }
  /** A keys.get through the cache: hits copied out of it, misses read from the store and kept. */
  const cachedGet = async (type, ids) => {
    args.keyType(type)
    const asked = args.ids(ids)
    const { found, missing, seq } = cache.lookup(type, asked)
    const fetched = missing.length === 0 ? {} : await store.getKeys(sessionId, type, missing)
    if (lease.isLost) void lease.fence
    for (const id of missing) cache.fill(type, id, fetched[id], seq)
    const values = {}
    for (const id of asked) setEntry(values, id, found.has(id) ? found.get(id) : fetched[id])
    return values
  }
  const state = {
    creds,
    keys: {
      async get(type, ids) {
        open()
        const values = cache ? await cachedGet(type, ids) : await store.getKeys(sessionId, type, ids)
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
        if (!cache) return write((fence) => store.setKeys(sessionId, data, fence))
        args.keysData(data)
        let prepared
        try {
          prepared = cache.beginWrite(data)
        } catch (cause) {
          throw storeError(ErrorCodes.INVALID_ARG, 'keys.set data cannot be read', cause)
        }
        let ok = false
        try {
          await write((fence) => store.setKeys(sessionId, prepared.toWrite, fence))
          ok = true
        } finally {
          cache.writeDone(prepared.token, ok)
        }
      },
      async clear() {
        open()
        return everyKey((fence) => store.clearKeys(sessionId, fence))
      },
    },
  }
  /** A write that touches every key of the session: reads bypass the cache until it settles. */
  const everyKey = async (call) => {
    const token = cache?.beginEvery()
    let ok = false
    try {
      await write(call)
      ok = true
    } finally {
      cache?.everyDone(token, ok)
    }
  }
  // Writes state.creds as it is when called; the store applies calls in order, so of
  // overlapping calls the latest state wins.
  const saveCreds = async () => {
    open()
    return write((fence) => store.setCreds(sessionId, state.creds, fence))
  }
  /** Deletes this session's creds and keys (logout); the handle still owns the session. */
  const deleteSession = async () => {
    open()
    return everyKey((fence) => store.deleteSession(sessionId, { fence }))
  }
  /** This handle's lease and cache: sizes and hit rate. */
  const stats = () => ({ session: sessionId, lease: lease?.info() ?? null, cache: cache?.stats() ?? null })
  // Releases this session only: other sessions on the same store go on. Calls issued before
  // it still complete (the store finishes them before it closes), and the lease is given back
  // after them, so the next owner takes over at once.
  const close = () =>
    (closing ??= (async () => {
      await lease?.release()
      cache?.clear()
      await shared?.release()
    })())
  // Without a lease there is nothing to lose: `lost` never settles.
  const lost = lease ? lease.lost : new Promise(() => {})
  return { state, saveCreds, close, store, lost, stats, deleteSession }
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
