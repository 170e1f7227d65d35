'use strict'
// AuthStore, one open store holding any number of sessions, and openStore. Each method checks
// its arguments at the gate (lib/args.js), turns values into bytes (lib/codec.js, lib/wire.js)
// and hands those to the native store (lib/native.js), which runs the work off the JavaScript
// thread. Types and docs: index.d.ts.

const path = require('node:path')
const { NativeStore } = require('./native.js')
const args = require('./args.js')
const codec = require('./codec.js')
const wire = require('./wire.js')
const { track } = require('./spin.js')
const { defaultStoreUrl } = require('./default-store.js')
const { ErrorCodes, storeError } = require('./errors.js')
const { withSessionLease, DEFAULT_LEASE_MS, hostName } = require('./ownership.js')
const appState = require('./app-state.js')

/** A lease blob from the binding (src/core/wire.rs write_lease), or its decoded value, with Dates. */
function readLease(blob, decoded = codec.decodeValue(blob)) {
  const { fence, epoch, host, pid, acquiredAt, expiresAt, live } = decoded
  return { fence, epoch, host, pid, acquiredAt: new Date(acquiredAt), expiresAt: new Date(expiresAt), live }
}

/** The arguments of acquireLeases and renewLeases: two arrays, one item of `what` per session. */
function sameLengthArrays(sessionIds, items, what) {
  if (!Array.isArray(sessionIds) || !Array.isArray(items) || sessionIds.length !== items.length) {
    throw storeError(ErrorCodes.INVALID_ARG, `sessionIds and ${what} must be arrays of one length`)
  }
}

/** Each lease's outcome from the binding (src/core/wire.rs write_lease_outcomes). */
function readOutcomes(blob) {
  return codec.decodeValue(blob).map((item) => {
    if (item.code === undefined) return { lease: readLease(null, item) }
    const error = storeError(item.code, item.message)
    const { owner } = item
    if (owner) error.owner = { ...owner, acquiredAt: new Date(owner.acquiredAt), expiresAt: new Date(owner.expiresAt) }
    return { error }
  })
}

/** A lease as tools show it: without its fence, which only its holder uses. */
function ownerOf({ fence: _fence, ...owner }) {
  return owner
}

/** The native store of an AuthStore, for the copy engine (lib/transfer/), set in its static block. */
let nativeOf

/**
 * One open store: a SQLite database (or another backend) holding any number of sessions.
 * Create it with `openStore`; `useRustAuthState` opens one for you.
 */
class AuthStore {
  #native
  #url
  #onClose
  #encrypted

  static {
    nativeOf = (store) => store.#native
  }

  /** @internal use openStore() */
  constructor(native, url, onClose, encrypted = false) {
    this.#native = native
    this.#url = url
    this.#onClose = onClose
    this.#encrypted = encrypted
  }

  /** The URL this store was opened with. */
  get url() {
    return this.#url
  }

  /**
   * Whether the store was opened with options.encryption (it is then an encrypted store: one
   * cannot be opened without its key). exportFolder and migrate keep its values sealed unless
   * told `decrypt: true`.
   */
  get encrypted() {
    return this.#encrypted
  }

  /** Whether close() has been called. */
  get closed() {
    return this.#native.closed
  }

  /**
   * Group commit counts since the store opened: `groups` committed (on SQLite one commit, one
   * fsync, each; on Redis one pipeline) and the creds saves and key batches (`writes`) they
   * held. More writes than groups means writes shared a commit (docs/architecture.md).
   */
  get writeGroups() {
    return this.#native.writeGroups
  }

  /** Every session that has creds or keys, sorted. */
  sessions() {
    return this.#native.sessions()
  }

  /** What the store is, whatever URL opened it (a SQLite file's device and inode; a Redis server, db and prefix). */
  get identity() {
    return this.#native.identity
  }

  /**
   * Removes a session's creds and keys, atomically. A session another owner holds a live lease
   * on is refused ERR_SESSION_LOCKED (with `owner`), unless `takeover: true`, which fences that
   * owner first (docs/ownership.md). `fence` is for the owner's own handle.
   */
  async deleteSession(sessionId, options) {
    args.sessionId(sessionId)
    const { takeover, fence } = args.deleteOptions(options)
    if (fence !== undefined || !takeover) return this.#native.deleteSession(sessionId, fence)
    return withSessionLease(this, sessionId, { takeover }, (held) => this.#native.deleteSession(sessionId, held))
  }

  /**
   * Takes the session's lease: `{ fence, epoch, host, pid, acquiredAt, expiresAt }`. `claim`:
   * 'refuse' (ERR_SESSION_LOCKED if anyone holds it), 'process' (take it from a holder in this
   * process, refuse others) or 'takeover' (take it from anyone). useRustAuthState does this
   * for you; it is public for tools.
   */
  async acquireLease(sessionId, options) {
    args.sessionId(sessionId)
    const { leaseMs, claim } = args.leaseOptions(options, DEFAULT_LEASE_MS)
    return readLease(await this.#native.acquireLease(sessionId, leaseMs, claim, hostName()))
  }

  /** Renews the lease `fence` names for `leaseMs` from now; ERR_SESSION_FENCED if it is no longer the session's. */
  async renewLease(sessionId, fence, leaseMs = DEFAULT_LEASE_MS) {
    args.sessionId(sessionId)
    args.leaseMs(leaseMs)
    return readLease(await this.#native.renewLease(sessionId, args.fence(fence, true), leaseMs))
  }

  /**
   * Takes several sessions' leases in one go (few transactions for many sessions starting at
   * once): for each, in order, `{ lease }` as acquireLease resolves, or `{ error }` as it would
   * reject (ERR_SESSION_LOCKED with `owner`). `claims[i]` as acquireLease's `claim`.
   */
  async acquireLeases(sessionIds, claims, leaseMs = DEFAULT_LEASE_MS) {
    sameLengthArrays(sessionIds, claims, 'claims')
    sessionIds.forEach((id) => args.sessionId(id))
    args.leaseMs(leaseMs)
    return readOutcomes(await this.#native.acquireLeases(sessionIds, leaseMs, claims, hostName()))
  }

  /** Renews several leases in one go: for each, in order, `{ lease }` or `{ error }` (ERR_SESSION_FENCED). */
  async renewLeases(sessionIds, fences, leaseMs = DEFAULT_LEASE_MS) {
    sameLengthArrays(sessionIds, fences, 'fences')
    sessionIds.forEach((id) => args.sessionId(id))
    args.leaseMs(leaseMs)
    return readOutcomes(await this.#native.renewLeases(sessionIds, fences.map((f) => args.fence(f, true)), leaseMs))
  }

  /** Gives the lease `fence` names back, so that the next owner takes the session at once. */
  async releaseLease(sessionId, fence) {
    args.sessionId(sessionId)
    return this.#native.releaseLease(sessionId, args.fence(fence, true))
  }

  /**
   * Who owns the session: `{ epoch, host, pid, acquiredAt, expiresAt, live }`, or null if it
   * was never leased. `live` is false once released or expired (a holder that died stays live until the next owner takes over).
   */
  async lease(sessionId) {
    args.sessionId(sessionId)
    const blob = await this.#native.lease(sessionId)
    return blob === null ? null : ownerOf(readLease(blob))
  }

  /** Every session's lease, sorted by session: `[{ session, epoch, host, pid, acquiredAt, expiresAt, live }]`. */
  async leases() {
    return codec.decodeValue(await this.#native.leases()).map(([session, lease]) => ({ session, ...ownerOf(readLease(null, lease)) }))
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
    args.sessionId(sessionId)
    const raw = wire.readStats(await this.#native.stats(sessionId))
    // An app-state version counts once, however many pieces it is stored in (lib/app-state.js).
    const versions = raw.types[appState.TYPE]
    if (versions) versions.count = (await this.listKeys(sessionId)).filter((key) => key.type === appState.TYPE).length
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
      owner: await this.lease(sessionId),
    }
  }

  /**
   * Every key of a session, `[{ type, id, bytes }]` sorted by type and id (no values); an
   * app-state version once, its bytes those of all its pieces (docs/format.md).
   */
  async listKeys(sessionId) {
    args.sessionId(sessionId)
    return appState.foldList(wire.readKeyList(await this.#native.listKeys(sessionId)))
  }

  /**
   * Copies the whole store, consistently, to a new SQLite file at `file` while it stays in
   * use (SQLite stores only; others reject with ERR_UNSUPPORTED). `file` is replaced
   * atomically: it is always either the old file or a complete copy.
   */
  async backup(file) {
    return this.#native.backup(path.resolve(args.backupPath(file)))
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
    args.sessionId(sessionId)
    const blob = await track(this.#native.getCreds(sessionId), 'read')
    if (blob === null) return null
    const creds = codec.decodeValue(blob)
    if (typeof creds !== 'object' || creds === null || Array.isArray(creds)) {
      throw storeError(ErrorCodes.STORE_CORRUPT, `saved creds of session ${JSON.stringify(sessionId)} are not an object`)
    }
    return creds
  }

  /**
   * Saves the session's creds atomically, as they are at the time of the call. `fence`: the
   * owner's (its lease's); without one, a session another owner holds is refused ERR_SESSION_LOCKED.
   */
  async setCreds(sessionId, creds, fence) {
    args.sessionId(sessionId)
    args.creds(creds)
    return track(this.#native.setCreds(sessionId, codec.encodeCreds(creds), args.fence(fence)), 'write')
  }

  /** Like SignalKeyStore.get: every id is a key of the result, missing ones map to null. */
  async getKeys(sessionId, type, ids) {
    // The answer is keyed by the ids as they are now: the caller may change its array before
    // the read finishes.
    args.sessionId(sessionId)
    args.keyType(type)
    const asked = args.ids(ids)
    const read = async (ids) => wire.decodeResults(await track(this.#native.getKeys(sessionId, type, ids), 'read'), ids)
    // App-state versions are stored in pieces (lib/app-state.js): read with them, as whole values.
    return type === appState.TYPE ? appState.getWhole(asked, read) : read(asked)
  }

  /** Like SignalKeyStore.set: one atomic batch; null or undefined deletes. `fence` as for setCreds. */
  async setKeys(sessionId, data, fence) {
    args.sessionId(sessionId)
    args.keysData(data)
    return track(this.#native.setKeys(sessionId, wire.encodeBatch(appState.expandBatch(data)), args.fence(fence)), 'write')
  }

  /** Removes every key of the session, keeping its creds. `fence` as for setCreds. */
  async clearKeys(sessionId, fence) {
    args.sessionId(sessionId)
    return track(this.#native.clearKeys(sessionId, args.fence(fence)), 'write')
  }
}

/**
 * Opens a store. Each call opens a new one; close it when done.
 * @param {string} [url] `sqlite:PATH`, `sqlite://PATH`, a file path, `sqlite::memory:`,
 *   `memory:`, `redis://…`, `rediss://…`, `redis+unix://…`, `redis+cluster://…`,
 *   `postgres://…` (`postgresql://`) or `mysql://…` (`mariadb://`);
 *   default: env BAILEYS_AUTH_STORE, else `sqlite:./baileys-auth.db`.
 * @param {object} [options] create, encryption (`{ key }` or `{ passphrase }`); for Redis, PostgreSQL and MySQL: connectTimeoutMs,
 *   commandTimeoutMs; for Redis: keyPrefix, ttlSeconds; for PostgreSQL: schema; for MySQL:
 *   tablePrefix; for both: poolSize (index.d.ts documents each).
 */
async function openStore(url = defaultStoreUrl(), options = {}) {
  args.storeUrl(url)
  args.options(options)
  const encrypted = args.encryptionGiven(options)
  if (encrypted) options = { ...options, encryption: await args.resolvedEncryption(options.encryption) }
  return new AuthStore(await NativeStore.open(url, options), url, null, encrypted)
}

module.exports = { AuthStore, openStore, nativeOf: (store) => nativeOf(store) }
