'use strict'
// The error codes of the package and the one way its JavaScript code builds an error. The
// native module builds errors with the same codes (src/core/error.rs).

/** The `code` of every error this package rejects with. */
const ErrorCodes = Object.freeze({
  INVALID_ARG: 'ERR_INVALID_ARG',
  STORE_CLOSED: 'ERR_STORE_CLOSED',
  STORE_CORRUPT: 'ERR_STORE_CORRUPT',
  STORE_VERSION: 'ERR_STORE_VERSION',
  STORE_IO: 'ERR_STORE_IO',
  STORE_NOT_FOUND: 'ERR_STORE_NOT_FOUND',
  STORE_UNAVAILABLE: 'ERR_STORE_UNAVAILABLE',
  STORE_KEY: 'ERR_STORE_KEY',
  UNSUPPORTED: 'ERR_UNSUPPORTED',
  SESSION_LOCKED: 'ERR_SESSION_LOCKED',
  SESSION_FENCED: 'ERR_SESSION_FENCED',
  VERIFY_FAILED: 'ERR_VERIFY_FAILED',
  NATIVE_BINDING: 'ERR_NATIVE_BINDING',
})
const knownCodes = new Set(Object.values(ErrorCodes))

function isAuthStoreError(err) {
  return err instanceof Error && knownCodes.has(err.code)
}

/** An Error with a stable `code` (and the error that caused it, if any). */
function storeError(code, message, cause) {
  const err = new Error(message, cause === undefined ? undefined : { cause })
  err.code = code
  return err
}

module.exports = { ErrorCodes, isAuthStoreError, storeError }
