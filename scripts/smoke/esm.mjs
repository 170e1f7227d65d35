// The package loaded from an ES module, as `import` resolves it (index.mjs).
import { openStore, useRustAuthState } from 'baileys-rust-auth'
import { smoke } from './check.mjs'

await smoke({ useRustAuthState, openStore }, 'esm')
