'use strict'
// The public API: a drop-in for Baileys' useMultiFileAuthState over the native store, and the
// rest of the package re-exported. Everything that touches the disk runs in Rust, off the
// JavaScript thread; this file opens the session: its store (lib/store.js, shared per store by
// lib/shared-stores.js), its lease (lib/ownership.js) and creds, and hands them to the handle
// (lib/session-handle.js), which wires Baileys' AuthenticationState onto them. Types and docs:
// index.d.ts.

const args = require('./lib/args.js')
const { AuthStore, openStore } = require('./lib/store.js')
const { acquireShared } = require('./lib/shared-stores.js')
const { importFolder, exportFolder, migrate } = require('./lib/transfer/migrate.js')
const { rekey } = require('./lib/rekey.js')
const { encryptStore, decryptStore } = require('./lib/convert.js')
const { defaultStoreUrl } = require('./lib/default-store.js')
const { ErrorCodes, isAuthStoreError, storeError } = require('./lib/errors.js')
const { SessionLease } = require('./lib/ownership.js')
const { OwnerCache } = require('./lib/owner-cache.js')
const { sessionHandle } = require('./lib/session-handle.js')

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

/** The key to open a store URL with: options.encryption, else env BAILEYS_AUTH_KEY, else none. */
function encryptionOf(given) {
  if (given.encryption !== undefined) return given.encryption
  const fromEnv = process.env.BAILEYS_AUTH_KEY
  return fromEnv ? { key: fromEnv } : null
}

/** Whether a store is shared between processes, and so leased by default (docs/ownership.md). */
function sharedBetweenProcesses(store) {
  return ['sqlite-file', 'redis', 'redis-cluster', 'postgres', 'mysql'].includes(args.storeUrl(store.url).kind)
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
  const givenStore = args.isAuthStore(storeOption, AuthStore, 'options.store')
  if (givenStore && given.encryption !== undefined) {
    throw storeError(ErrorCodes.INVALID_ARG, 'options.encryption is for a store URL: an AuthStore was opened with its own (openStore(url, { encryption }))')
  }
  const shared = givenStore ? null : await acquireShared(storeOption ?? defaultStoreUrl(), await args.resolvedEncryption(encryptionOf(given)))
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
  return sessionHandle({ sessionId, store, creds, lease, cache, appStateSyncKey, release: () => shared?.release() })
}

module.exports = {
  useRustAuthState,
  openStore,
  AuthStore,
  importFolder,
  exportFolder,
  migrate,
  rekey,
  encryptStore,
  decryptStore,
  ErrorCodes,
  isAuthStoreError,
}
