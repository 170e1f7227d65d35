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

/**
 * A drop-in for Baileys' useMultiFileAuthState, backed by a native store.
 *
 *     const { state, saveCreds } = await useRustAuthState('session-id')
 */
async function useRustAuthState(sessionId, options = {}) {
  args.sessionId(sessionId)
  const { store: storeOption, baileys: baileysOption } = args.authStateOptions(options)
  // A Baileys module given is checked before the store is opened (opening may create its file).
  if (baileysOption !== undefined) args.baileysModule(baileysOption)
  const shared = args.isAuthStore(storeOption, AuthStore, 'options.store') ? null : await acquireShared(storeOption ?? defaultStoreUrl())
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
