'use strict'
// The package loaded from CommonJS, as `require` resolves it (index.js).
const { openStore, useRustAuthState } = require('baileys-rust-auth')

import('./check.mjs')
  .then(({ smoke }) => smoke({ useRustAuthState, openStore }, 'cjs'))
  .catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
