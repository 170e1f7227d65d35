// close() while a renewal is in flight that comes back ERR_SESSION_FENCED (taken over meanwhile):
// SessionLease.#renew's catch calls lose() without checking #released, so `lost` resolves and
// onLost runs AFTER the application closed the handle. Also: onLost that throws.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, useRustAuthState } from '../index.mjs'
const BAILEYS = { initAuthCreds: () => ({}), proto: {} }
const url = `sqlite:${join(mkdtempSync(join(tmpdir(), 'repro-')), 'auth.db')}`
const store = await openStore(url)
const renew = store.renewLease.bind(store)
let slow = false
store.renewLease = async (...a) => { if (slow) await new Promise((r) => setTimeout(r, 300)); return renew(...a) } // a slow store
let onLostCalls = 0
const auth = await useRustAuthState('s', { store, leaseMs: 1000, baileys: BAILEYS, onLost: () => onLostCalls++ })
const other = await openStore(url)
await other.acquireLease('s', { claim: 'takeover' }) // another owner (a tool with takeover)
slow = true
await new Promise((r) => setTimeout(r, 400)) // the renewal (every 333 ms) is now in flight
let lostBeforeClose = false; auth.lost.then(() => (lostBeforeClose = !closedYet)); let closedYet = false
await auth.close(); closedYet = true
console.log('lost before close?', lostBeforeClose)
console.log('closed; lost settled?', await Promise.race([auth.lost.then(() => 'yes'), new Promise((r) => setTimeout(() => r('no'), 600))]), 'onLost calls after close:', await new Promise((r) => setTimeout(() => r(onLostCalls), 50)))
await other.close()
await store.close()
process.on('uncaughtException', (e) => { console.log('uncaughtException from onLost:', e.message); process.exit(0) })
const s2 = `sqlite:${join(mkdtempSync(join(tmpdir(), 'repro-')), 'auth.db')}`
const h1 = await useRustAuthState('t', { store: s2, baileys: BAILEYS, onLost: () => { throw new Error('onLost threw') } })
const h2 = await useRustAuthState('t', { store: s2, baileys: BAILEYS }) // in-process takeover: h1 lost
await new Promise((r) => setTimeout(r, 100))
console.log('no uncaught exception')
