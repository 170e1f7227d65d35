'use strict'
// The store used when none is named: by the library (openStore, useRustAuthState, the
// import/export functions) and by the CLI alike.

const DEFAULT_STORE_URL = 'sqlite:./baileys-auth.db'

/** The environment's BAILEYS_AUTH_STORE when set and non-empty, else the SQLite file. */
function defaultStoreUrl() {
  return process.env.BAILEYS_AUTH_STORE || DEFAULT_STORE_URL
}

module.exports = { DEFAULT_STORE_URL, defaultStoreUrl }
