'use strict'
// encryptStore / decryptStore: a whole store converted in place, plain to encrypted or back
// (docs/encryption.md, "Converting a whole store"). The work is the encryption layer's
// (src/core/layers/cipher/convert.rs), in one native call: every session moved under its other
// name as its temporary owner, copied, read back and compared before the old copy is deleted,
// and the store's `cipher-conversion` record set meanwhile, so that no application opens a
// half-converted store. Applications must be stopped first (a session with a live lease refuses
// the conversion). Every step can be run again: a conversion that stopped resumes. Types and
// docs: index.d.ts.

const args = require('./args.js')
const { defaultStoreUrl } = require('./default-store.js')
const { ErrorCodes, storeError } = require('./errors.js')
const { NativeStore } = require('./native.js')
const { hostName } = require('./ownership.js')
const { AuthStore } = require('./store.js')

const invalid = (message) => storeError(ErrorCodes.INVALID_ARG, message)

function convertOptions(value) {
  const given = args.options(value, 'options')
  let read
  try {
    const { store, key, storeOptions, onProgress } = given
    read = { store, key, storeOptions, onProgress }
  } catch {
    throw invalid('options cannot be read')
  }
  if (read.key === undefined || read.key === null) throw invalid('options.key is required: the store\'s key, { key } or { passphrase }')
  read.key = args.encryption(read.key, 'options.key')
  read.store ??= defaultStoreUrl()
  args.storeUrl(read.store, 'options.store')
  read.storeOptions = read.storeOptions === undefined ? {} : args.options(read.storeOptions, 'options.storeOptions')
  if ('encryption' in read.storeOptions) throw invalid('options.storeOptions.encryption: give the key as options.key')
  if ('create' in read.storeOptions) throw invalid('options.storeOptions.create: a conversion never creates a store')
  if (read.onProgress !== undefined && typeof read.onProgress !== 'function') throw invalid('options.onProgress must be a function')
  return read
}

async function convert(direction, options) {
  const { store: url, storeOptions, onProgress, ...read } = convertOptions(options)
  const key = await args.resolvedEncryption(read.key, 'options.key')
  // The callback's own errors are not the conversion's: it goes on.
  const told = onProgress && ((progress) => {
    try {
      onProgress(progress)
    } catch {}
  })
  const native = await NativeStore.convert(url, { ...storeOptions, create: false }, direction, key, hostName(), told)
  const store = new AuthStore(native, url, null, direction === 'encrypt')
  try {
    return { sessions: (await store.sessions()).length }
  } finally {
    await store.close()
  }
}

/** Encrypts a plain store in place (see `encryptStore` in index.d.ts). */
const encryptStore = (options) => convert('encrypt', options)

/** Makes an encrypted store plain again, in place (see `decryptStore` in index.d.ts). */
const decryptStore = (options) => convert('decrypt', options)

module.exports = { encryptStore, decryptStore }
