'use strict'
// The one gate for what callers pass to the public API: every public function and AuthStore
// method sends its arguments through here, once, before anything else looks at them. A bad
// argument is refused with ERR_INVALID_ARG and a message naming it; nothing is sent to the
// store. The native binding converts what it is given defensively (for direct use), but it is
// this module that answers callers, and Rust checks only the bytes it stores.
//
// What is *inside* values (a Buffer shape, an unstorable property) is the codec's business
// (lib/codec.js, lib/wire.js): it is found while the value is encoded, and each property is
// read once.

const path = require('node:path')
const { ErrorCodes, storeError } = require('./errors.js')
const { parseStoreUrl } = require('./native.js')

const invalid = (message, cause) => storeError(ErrorCodes.INVALID_ARG, message, cause)

const LONE_SURROGATE = 'a string contains a lone UTF-16 surrogate, which is not valid Unicode'

/** A non-empty string that UTF-8 can hold (every name the store keeps: session ids, key types). */
function name(value, what) {
  if (typeof value !== 'string' || value === '') throw invalid(`${what} must be a non-empty string`)
  if (!value.isWellFormed()) throw invalid(`${what} cannot be read: ${LONE_SURROGATE}`)
  return value
}

const sessionId = (value) => name(value, 'sessionId')
const keyType = (value) => name(value, 'key type')

/**
 * A copy of an array argument, each item passed through `check` (which returns it or throws) as
 * it is copied: a hole or a bad item ends it at once, so a sparse array of 2^32-1 holes costs
 * nothing (`every` skips holes and walks all of them). A hostile getter or Proxy is refused as
 * unreadable.
 */
function checkedCopy(value, what, notItems, check) {
  try {
    if (!Array.isArray(value)) throw notItems()
    const copy = new Array(value.length)
    for (let i = 0; i < copy.length; i++) copy[i] = check(value[i])
    return copy
  } catch (err) {
    if (err?.code === ErrorCodes.INVALID_ARG) throw err
    throw invalid(`${what} cannot be read: reading it threw ${err}`, err)
  }
}

/** A copy of keys.get's ids, every item a string UTF-8 can hold. */
function ids(value) {
  const notStrings = () => invalid('ids must be an array of strings')
  return checkedCopy(value, 'ids', notStrings, (id) => {
    if (typeof id !== 'string') throw notStrings()
    if (!id.isWellFormed()) throw invalid(`ids cannot be read: ${LONE_SURROGATE}`)
    return id
  })
}

/** Whether `value` is an object and not an array; a revoked Proxy is refused as unreadable. */
function isPlainObject(value, what) {
  try {
    return value !== null && typeof value === 'object' && !Array.isArray(value)
  } catch (err) {
    throw invalid(`${what} cannot be stored: reading it threw ${err}`, err)
  }
}

function creds(value) {
  if (!isPlainObject(value, 'creds')) throw invalid('creds must be an object')
  return value
}

/** keys.set's data: `{ [type]: { [id]: value } }`. Its inside is checked as it is encoded (lib/wire.js). */
function keysData(value) {
  if (!isPlainObject(value, 'keys.set data')) throw invalid('keys.set data must be an object')
  return value
}

/** An options argument: an object (undefined stands for `{}`). */
function options(value, what = 'options') {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object') throw invalid(`${what} must be an object`)
  return value
}

/**
 * A URL string parsed by the binding. The binding receives it as UTF-8, where a lone surrogate
 * becomes U+FFFD: `a\uD800.db` would parse as the path of the file `a\uFFFD.db` (and find that
 * file's shared store), so such a string is refused here, as NativeStore.open refuses it.
 */
function parsed(value, what) {
  if (!value.isWellFormed()) throw invalid(`${what} cannot be read: ${LONE_SURROGATE}`)
  return parseStoreUrl(value)
}

/** A store URL, parsed (src/core/url.rs, through the binding): `{ kind, path, shown }`. */
function storeUrl(value, what = 'store URL') {
  if (typeof value !== 'string' || value === '') throw invalid(`${what} must be a non-empty string`)
  return parsed(value, what)
}

/**
 * Whether `value` is an AuthStore. `instanceof` asks a Proxy's getPrototypeOf trap, which may
 * throw (or the Proxy be revoked): such a value is refused as unreadable, with ERR_INVALID_ARG.
 */
function isAuthStore(value, AuthStore, what) {
  try {
    return value instanceof AuthStore
  } catch (err) {
    throw invalid(`${what} cannot be read: reading it threw ${err}`, err)
  }
}

/** A store option: an instance of `AuthStore` as it is, or a store URL. */
function storeOrUrl(value, what, AuthStore) {
  if (isAuthStore(value, AuthStore, what)) return value
  if (typeof value !== 'string' || value === '') throw invalid(`${what} must be a store URL or an AuthStore`)
  parsed(value, what)
  return value
}

function backupPath(value) {
  if (typeof value !== 'string' || value === '') throw invalid('backup path must be a non-empty string')
  if (value.includes('\0')) throw invalid('backup path must not contain NUL characters')
  return value
}

function folder(value) {
  if (typeof value !== 'string' || value === '') throw invalid('folder must be a non-empty string')
  // The file system gets UTF-8, with U+FFFD for a lone surrogate: another folder than the one named
  // (backup's path is refused so by the binding).
  if (!value.isWellFormed()) throw invalid(`folder cannot be read: ${LONE_SURROGATE}`)
  return value
}

/** importFolder's options.types, copied as checked, like `ids`. */
function keyTypes(value) {
  const notNames = () => invalid('options.types must be an array of key type names')
  return checkedCopy(value, 'options.types', notNames, (type) => {
    if (typeof type !== 'string' || type === '') throw notNames()
    return type
  })
}

/** useRustAuthState's options, read once: `{ store, baileys }`. */
function authStateOptions(value) {
  const given = options(value)
  let read
  try {
    const { store, baileys, lease, leaseMs, takeover, onLost, cacheBytes, encryption } = given
    read = { store, baileys, lease, leaseMs, takeover, onLost, cacheBytes, encryption }
  } catch (cause) {
    throw invalid('options cannot be read', cause)
  }
  if (read.lease !== undefined && typeof read.lease !== 'boolean') throw invalid('options.lease must be a boolean')
  if (read.takeover !== undefined && typeof read.takeover !== 'boolean') throw invalid('options.takeover must be a boolean')
  if (read.lease === false && (read.takeover !== undefined || read.leaseMs !== undefined)) {
    throw invalid('options.takeover and options.leaseMs need a lease: drop them, or lease: false')
  }
  if (read.leaseMs !== undefined) leaseMs(read.leaseMs, 'options.leaseMs')
  if (read.onLost !== undefined && typeof read.onLost !== 'function') throw invalid('options.onLost must be a function')
  if (read.cacheBytes !== undefined && !(Number.isSafeInteger(read.cacheBytes) && read.cacheBytes >= 0)) {
    throw invalid('options.cacheBytes must be a whole number of bytes, 0 or more (0 turns the cache off)')
  }
  if (read.encryption !== undefined) read.encryption = encryption(read.encryption)
  return read
}

/**
 * options.encryption, copied as read (`{ key }` or `{ passphrase }`, or null); the native
 * store checks the key itself. Messages never repeat a key.
 */
function encryption(value, what = 'options.encryption') {
  if (value === null) return null
  // A callback (a KMS, the OS keychain): called when the store opens (resolvedEncryption).
  if (typeof value === 'function') return value
  if (typeof value !== 'object') throw invalid(`${what} must be { key } or { passphrase }, a function resolving to one, or null`)
  let key, passphrase
  try {
    ;({ key, passphrase } = value)
  } catch (cause) {
    throw invalid(`${what} cannot be read`, cause)
  }
  if ((key === undefined) === (passphrase === undefined)) throw invalid(`${what} takes a key or a passphrase: one of them`)
  if (key !== undefined && typeof key !== 'string' && !(key instanceof Uint8Array)) {
    throw invalid(`${what}.key must be 32 bytes: a Buffer, or hex or base64 text`)
  }
  if (passphrase !== undefined && (typeof passphrase !== 'string' || passphrase === '')) {
    throw invalid(`${what}.passphrase must be a non-empty string`)
  }
  return key !== undefined ? { key: typeof key === 'string' ? key : Buffer.from(key) } : { passphrase }
}

/**
 * options.encryption ready for the native store: a callback given is called (once) and what it
 * resolves to is checked as `{ key }` or `{ passphrase }`. Its errors reject as they are (a KMS
 * that cannot be reached says so itself); messages never repeat a key.
 */
async function resolvedEncryption(value, what = 'options.encryption') {
  const read = encryption(value, what)
  if (typeof read !== 'function') return read
  const got = await read()
  if (got === null || got === undefined || typeof got === 'function') {
    throw invalid(`${what}() must resolve to { key } or { passphrase }`)
  }
  return encryption(got, `${what}()`)
}

/**
 * Whether store options (openStore's, or a transfer's storeOptions / fromOptions / toOptions)
 * ask for an encrypted store: `encryption` given and not null. Read once.
 */
function encryptionGiven(value, what = 'options') {
  if (value === undefined || value === null) return false
  let given
  try {
    given = value.encryption
  } catch (cause) {
    throw invalid(`${what} cannot be read`, cause)
  }
  return given !== undefined && given !== null
}

/** A lease duration in ms: a whole number from 1000 (1 s) to 86400000 (a day). */
function leaseMs(value, what = 'leaseMs') {
  if (!Number.isInteger(value) || value < 1000 || value > 86400000) {
    throw invalid(`${what} must be a whole number of ms from 1000 to 86400000`)
  }
  return value
}

/** acquireLease's options: `{ leaseMs?, claim? }`, each read once. */
function leaseOptions(value, defaultLeaseMs) {
  const given = options(value)
  let read
  try {
    read = { leaseMs: given.leaseMs ?? defaultLeaseMs, claim: given.claim ?? 'refuse' }
  } catch (cause) {
    throw invalid('options cannot be read', cause)
  }
  leaseMs(read.leaseMs, 'options.leaseMs')
  claim(read.claim)
  return read
}

/** How acquireLease treats a lease someone else holds. */
function claim(value) {
  if (value !== 'refuse' && value !== 'process' && value !== 'takeover') throw invalid("claim must be 'refuse', 'process' or 'takeover'")
  return value
}

/** A lease's fence token, as acquireLease returned it; undefined for a write by no owner unless `required`. */
function fence(value, required = false) {
  if (value === undefined && !required) return undefined
  if (typeof value !== 'string' || value === '') throw invalid('fence must be the fence of a lease (acquireLease returns it)')
  return value
}

/** deleteSession's options: `{ takeover?, fence? }`. */
function deleteOptions(value) {
  const given = options(value)
  let read
  try {
    read = { takeover: given.takeover ?? false, fence: given.fence }
  } catch (cause) {
    throw invalid('options cannot be read', cause)
  }
  if (typeof read.takeover !== 'boolean') throw invalid('options.takeover must be a boolean')
  fence(read.fence)
  return read
}

/** options.baileys: the Baileys module, recognised by its initAuthCreds. */
function baileysModule(value) {
  let initAuthCreds
  try {
    initAuthCreds = value?.initAuthCreds
  } catch {}
  if (typeof initAuthCreds !== 'function') throw invalid('options.baileys must be the Baileys module (it has initAuthCreds)')
  return value
}

/** useRustAuthState's options.store when it is not an AuthStore: a URL. */
function sharedStoreUrl(value) {
  if (typeof value !== 'string' || value === '') throw invalid('options.store must be a URL string or an AuthStore')
  return parsed(value, 'options.store')
}

/** migrate's from and to: one URL given twice is one store (stores it opens are compared later, by identity). */
function differentStores(from, to) {
  if (typeof from === 'string' && from === to) throw invalid('options.from and options.to are the same store')
  // Two spellings of one SQLite file (`sqlite:x.db` and `./x.db`): refused before either is
  // opened, since opening `from` would create the file.
  if (typeof from === 'string' && typeof to === 'string') {
    const [a, b] = [parsed(from, 'options.from'), parsed(to, 'options.to')]
    if (a.kind === 'sqlite-file' && b.kind === 'sqlite-file' && path.resolve(a.path) === path.resolve(b.path)) {
      throw invalid('options.from and options.to are the same store')
    }
  }
}

/**
 * The options of importFolder, exportFolder and migrate: only `names` are allowed; returns the
 * copy's `{ batchSize, onProgress, overwrite, takeover }`.
 */
function transferOptions(value, names, defaultBatchSize) {
  if (value === null || typeof value !== 'object') throw invalid('options must be an object')
  // Each option read once, here: a Proxy's trap or a getter that throws is ERR_INVALID_ARG, and
  // a getter cannot answer one thing to this check and another to the caller. `given` holds
  // every allowed option as it was read.
  const given = {}
  let keys
  try {
    for (const name of names) given[name] = value[name]
    keys = Object.keys(value)
  } catch (cause) {
    throw invalid('options cannot be read', cause)
  }
  const { batchSize = defaultBatchSize, onProgress, overwrite = false, takeover = false } = given
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100000) {
    throw invalid('options.batchSize must be an integer from 1 to 100000')
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') throw invalid('options.onProgress must be a function')
  if (typeof overwrite !== 'boolean') throw invalid('options.overwrite must be a boolean')
  if (typeof takeover !== 'boolean') throw invalid('options.takeover must be a boolean')
  for (const key of keys) {
    if (!names.includes(key)) throw invalid(`unknown option ${JSON.stringify(key)}`)
  }
  return { batchSize, onProgress, overwrite, takeover, given }
}

module.exports = {
  sessionId,
  keyType,
  ids,
  creds,
  keysData,
  options,
  storeUrl,
  isAuthStore,
  storeOrUrl,
  backupPath,
  folder,
  keyTypes,
  authStateOptions,
  encryption,
  encryptionGiven,
  resolvedEncryption,
  leaseMs,
  leaseOptions,
  claim,
  fence,
  deleteOptions,
  baileysModule,
  sharedStoreUrl,
  transferOptions,
  differentStores,
}
