'use strict'
// One session's handle, as useRustAuthState returns it: Baileys' AuthenticationState (creds, and
// keys.get/set/clear) over a store, with saveCreds, close, lost, stats and deleteSession. When
// the handle owns the session (docs/ownership.md) every write carries its lease's fence, a
// fenced write loses the session, and reads go through the owner's cache (lib/owner-cache.js).

const args = require('./args.js')
const { ErrorCodes, storeError } = require('./errors.js')
const { setEntry } = require('./codec.js')

/**
 * What a failed write did, for the cache: nothing ('failed'), except when a networked store did
 * not answer in time or the connection broke, when it may have been applied ('unknown').
 */
const writeOutcome = (err) => (err?.code === ErrorCodes.STORE_UNAVAILABLE ? 'unknown' : 'failed')

/**
 * The handle of `sessionId` on `store`. `lease` (a SessionLease) and `cache` (an OwnerCache)
 * are null for a handle that does not own its session; `release()` gives the store back.
 */
function sessionHandle({ sessionId, store, creds, lease, cache, appStateSyncKey, release }) {
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
        let outcome = 'unknown'
        try {
          await write((fence) => store.setKeys(sessionId, prepared.toWrite, fence))
          outcome = 'ok'
        } catch (err) {
          outcome = writeOutcome(err)
          throw err
        } finally {
          cache.writeDone(prepared.token, outcome)
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
    let outcome = 'unknown'
    try {
      await write(call)
      outcome = 'ok'
    } catch (err) {
      outcome = writeOutcome(err)
      throw err
    } finally {
      cache?.everyDone(token, outcome)
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
      await release()
    })())
  // Without a lease there is nothing to lose: `lost` never settles.
  const lost = lease ? lease.lost : new Promise(() => {})
  return { state, saveCreds, close, store, lost, stats, deleteSession }
}

module.exports = { sessionHandle }
