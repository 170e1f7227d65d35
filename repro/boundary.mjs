// Hostile input at the AuthStore and native boundary: every call must reject with a coded
// error (err.code set), never crash, never write outside <db>.leases/.
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { openStore } from '../index.mjs'
const require = createRequire(import.meta.url)
const dir = mkdtempSync(join(tmpdir(), 'repro-'))
const url = `sqlite:${join(dir, 'auth.db')}`
const store = await openStore(url)
const real = await store.acquireLease('s', { leaseMs: 30000 })
const fences = ['', ':', '1:', ':x', '0:x', '-1:x', '+1:x', '1.0:x', '1e3:x', '18446744073709551615:x', '18446744073709551616:x', '9223372036854775808:x',
  '1:x', `${real.epoch}:${real.fence.split(':').slice(1).join(':')}x`, '\0:\0', '1:\0', '1:' + 'x'.repeat(1 << 20), '1:\uD800', 1, null, {}, [], Symbol('x'), 1n,
  { toString() { return real.fence } }, new String(real.fence)]
const results = {}
const probe = async (what, fn) => {
  try {
    const r = await fn()
    results[what] = 'OK ' + JSON.stringify(r ?? null)?.slice(0, 60)
  } catch (e) {
    results[what] = e?.code ? e.code : 'UNCODED ' + String(e).slice(0, 120)
  }
}
for (const f of fences) {
  const name = typeof f === 'string' ? JSON.stringify(f.slice(0, 30)) : typeof f === 'symbol' ? 'symbol' : typeof f === 'bigint' ? 'bigint' : JSON.stringify(f) ?? String(f)
  await probe(`setKeys fence ${name}`, () => store.setKeys('s', { session: { a: { x: 1 } } }, f))
  await probe(`renewLease fence ${name}`, () => store.renewLease('s', f, 30000))
  await probe(`releaseLease fence ${name}`, () => store.releaseLease('s', f))
}
for (const ms of [0, 999, 1000, 86400000, 86400001, -1, 1.5, NaN, Infinity, 2 ** 64, '30000', null, 1e21]) {
  await probe(`acquireLease leaseMs ${ms}`, () => store.acquireLease('t' + String(ms), { leaseMs: ms }))
  await probe(`renewLease leaseMs ${ms}`, () => store.renewLease('s', real.fence, ms))
}
for (const claim of ['', 'Takeover', 'takeover\0', null, 1, {}, 'process ']) await probe(`claim ${JSON.stringify(claim)}`, () => store.acquireLease('c', { claim }))
for (const id of ['\0', 'a\0b', '/', '../../x', '..', '.', 'a/b/../../../etc', 'x'.repeat(1 << 16), 'x'.repeat(1 << 22), '\uD800', 'a\uDC00b', '', ' ', '\n', '{}', '}{']) {
  const name = JSON.stringify(id.slice(0, 20)) + (id.length > 20 ? `(len ${id.length})` : '')
  await probe(`acquireLease id ${name}`, async () => {
    const l = await store.acquireLease(id, { leaseMs: 30000 })
    await store.setKeys(id, { session: { a: { x: 1 } } }, l.fence)
    await store.releaseLease(id, l.fence)
    return l.epoch
  })
}
// Native binding directly (bypassing lib/args.js)
const { NativeStore } = require('../lib/native.js')
const native = await NativeStore.open(url)
for (const [what, fn] of Object.entries({
  'native acquire leaseMs -0': () => native.acquireLease('n', -0, 'refuse', 'h'),
  'native acquire leaseMs 2^53+1': () => native.acquireLease('n', 2 ** 53 + 1, 'refuse', 'h'),
  'native acquire host obj': () => native.acquireLease('n', 30000, 'refuse', { toString() { throw new Error('x') } }),
  'native acquire host huge': () => native.acquireLease('n2', 30000, 'refuse', 'h'.repeat(1 << 24)),
  'native acquire no args': () => native.acquireLease(),
  'native renew fence number': () => native.renewLease('s', 5, 30000),
  'native release undefined': () => native.releaseLease('s', undefined),
  'native setKeys fence garbage': () => native.setKeys('s', Buffer.alloc(0), '5'),
  'native deleteSession fence obj': () => native.deleteSession('s', {}),
})) await probe(what, fn)
for (const [k, v] of Object.entries(results)) console.log(k.padEnd(60), v)
console.log('leases dir:', readdirSync(join(dir, 'auth.db.leases')).length, 'files; dir:', readdirSync(dir))
await native.close()
await store.close()
