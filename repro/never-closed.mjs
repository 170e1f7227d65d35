// Does a script that opens an owning handle and never closes it exit on its own?
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { useRustAuthState } from '../index.mjs'
const kind = process.argv[2] ?? 'sqlite'
let url
if (kind === 'redis') url = process.argv[3]
else url = `sqlite:${join(mkdtempSync(join(tmpdir(), 'repro-')), 'auth.db')}`
const auth = await useRustAuthState('s', { store: url, leaseMs: 1000, baileys: { initAuthCreds: () => ({}), proto: {} } })
await auth.state.keys.set({ session: { a: { x: 1 } } })
await auth.state.keys.get('session', ['a'])
console.log('done, not closing')
