// Two useRustAuthState calls of one session at once in one process, on two AuthStores of one
// SQLite file (openStore twice; same identity). SessionLease.acquire makes whichever resolves
// LAST the owner and loses the other, whatever their epochs: if the lower epoch resolves last,
// the live owner (higher epoch) is told it lost the session, and the registered one is already
// fenced in the store. Both end up lost: nobody owns the session in this process.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, useRustAuthState } from '../index.mjs'
const BAILEYS = { initAuthCreds: () => ({}), proto: {} }
const url = `sqlite:${join(mkdtempSync(join(tmpdir(), 'repro-')), 'auth.db')}`
const X = await openStore(url)
const Y = await openStore(url)
let bothLost = 0, ok = 0
const N = 300
for (let i = 0; i < N; i++) {
  const id = 's' + i
  const [a, b] = await Promise.all([useRustAuthState(id, { store: X, baileys: BAILEYS }), useRustAuthState(id, { store: Y, baileys: BAILEYS })])
  const tryWrite = (h) => h.state.keys.set({ session: { k: { i } } }).then(() => true, () => false)
  const [wa, wb] = [await tryWrite(a), await tryWrite(b)]
  if (!wa && !wb) {
    bothLost++
    if (bothLost === 1) console.log(`session ${id}: epochs ${a.stats().lease.epoch}/${b.stats().lease.epoch}, lost ${a.stats().lease.lost}/${b.stats().lease.lost}: neither handle can write`)
  } else if (wa !== wb) ok++
  await a.close(); await b.close()
}
console.log(`${bothLost}/${N}: both handles lost (no owner left); ${ok} exactly one owner`)
await X.close(); await Y.close()
