// How fast lib/codec.js encodes and decodes the values Baileys really stores, against the
// JSON text a pure-JavaScript store writes (`JSON.stringify(v, BufferJSON.replacer)`, read back
// with `JSON.parse(t, BufferJSON.reviver)`) and against plain JSON.stringify/parse (V8's floor
// for the same walk). The inputs are made with real Baileys over an in-memory Map store
// (bench/peers/memory-map.mjs), so the session records are exactly the objects libsignal hands
// a store, undefined properties included.
//
//   node scripts/codec-speed.mjs [--messages 2000] [--json]
//
// Runs from the repo root; needs only lib/ (not the native addon) and the devDependency baileys.
// Every value is checked to round-trip before it is timed. Times are CPU time (process.cpuUsage:
// on a shared machine, wall time also counts the waits for a core), medians over many warm
// samples, each sample a run of enough iterations to last ~2 ms; the methods are sampled in turn,
// round by round, so load from other processes falls on all of them alike.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'

import { makeDevice, sendDirect, startSession } from '../examples/lib/simulated-devices.mjs'
import { open as openMemory } from '../bench/peers/memory-map.mjs'

const require = createRequire(import.meta.url)
const { encodeBlob, encodeCreds, decodeValue } = require('../lib/codec.js')
const { encodeBatch, decodeResults } = require('../lib/wire.js')
const baileys = await import('baileys')
const { BufferJSON } = baileys

const { values: opts } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '41' },
    json: { type: 'boolean', default: false },
  },
})
const LONG_CHAT = Number(opts.messages)
const SHORT_CHAT = 20
const ROUNDS = Number(opts.rounds)

// ---- inputs -------------------------------------------------------------------------------

/** Session records alice holds for bob after `short` and after `long` alternating messages. */
async function sessionRecords(short, long) {
  const memory = await openMemory({ baileys })
  const alice = await makeDevice(baileys, await memory.use('alice'), { jid: '15550000001@s.whatsapp.net', preKeyCount: 2 })
  const bob = await makeDevice(baileys, await memory.use('bob'), { jid: '15550000002@s.whatsapp.net', preKeyCount: 2 })
  await startSession(alice, bob)
  const address = alice.repo.jidToSignalProtocolAddress(bob.jid)
  // The Map keeps the very object libsignal handed to keys.set (SessionRecord.serialize(), a
  // fresh object per write, never changed after): the record as a store receives it. A copy
  // would not do: V8 times objects of other shapes differently.
  const snapshot = async () => {
    const { [address]: record } = await alice.auth.state.keys.get('session', [address])
    return record
  }
  const records = {}
  for (let i = 0; i < long; i++) {
    await (i % 2 ? sendDirect(bob, alice, `m${i}`) : sendDirect(alice, bob, `m${i}`))
    if (i + 1 === short) records.short = await snapshot()
  }
  records.long = await snapshot()
  return records
}

function appStateVersion(entries) {
  const indexValueMap = {}
  for (let i = 0; i < entries; i++) indexValueMap[randomBytes(32).toString('base64')] = { valueMac: randomBytes(32) }
  return { version: 42, hash: randomBytes(128), indexValueMap }
}

function preKeys(count) {
  const keys = {}
  for (let id = 1; id <= count; id++) keys[id] = baileys.Curve.generateKeyPair()
  return keys
}

/** The results buffer a keys.get of `ids` gets back from Rust (src/core/wire.rs). */
function resultsBuffer(blobs) {
  const parts = [varint(blobs.length)]
  for (const blob of blobs) parts.push(Buffer.from([1]), varint(blob.length), blob)
  return Buffer.concat(parts)
}

function varint(n) {
  const bytes = []
  while (n >= 0x80) {
    bytes.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  bytes.push(n)
  return Buffer.from(bytes)
}

// ---- timing -------------------------------------------------------------------------------

/** Median µs per call of each method, sampled in turn. */
function time(methods) {
  const names = Object.keys(methods)
  const reps = {}
  for (const name of names) {
    const fn = methods[name]
    for (let i = 0; i < 20; i++) fn() // warm: let V8 optimise before calibrating
    let n = 1
    for (;;) {
      const us = cpuMicros(fn, n)
      if (us >= 2000 || n >= 1 << 20) break
      n = Math.min(n * 2, Math.ceil((n * 2200) / Math.max(us, 1)))
    }
    reps[name] = n
  }
  const samples = Object.fromEntries(names.map((name) => [name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) {
      const fn = methods[name]
      samples[name].push(cpuMicros(fn, reps[name]) / reps[name])
    }
  }
  return Object.fromEntries(names.map((name) => [name, median(samples[name])]))
}

/** CPU µs that `n` calls of `fn` take. */
function cpuMicros(fn, n) {
  const start = process.cpuUsage()
  for (let i = 0; i < n; i++) fn()
  const { user, system } = process.cpuUsage(start)
  return user + system
}

function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[sorted.length >> 1]
}

// ---- cases --------------------------------------------------------------------------------

/** A case: how the store encodes and decodes it, and the value as JSON sees it. */
function storeCase(name, value, encode, decode) {
  const blob = encode()
  const text = JSON.stringify(value, BufferJSON.replacer)
  const plain = JSON.stringify(value)
  // Exact before fast: the codec must give back what Baileys' JSON round trip gives.
  assert.deepEqual(decode(blob), JSON.parse(text, BufferJSON.reviver), `${name}: the codec's round trip differs from BufferJSON's`)
  const t = time({
    encode,
    decode: () => decode(blob),
    bufferJsonStringify: () => JSON.stringify(value, BufferJSON.replacer),
    bufferJsonParse: () => JSON.parse(text, BufferJSON.reviver),
    jsonStringify: () => JSON.stringify(value),
    jsonParse: () => JSON.parse(plain),
  })
  return { name, codecBytes: blob.length, jsonBytes: Buffer.byteLength(text), ...t }
}

console.error(`making inputs with real Baileys (${LONG_CHAT} messages)…`)
const records = await sessionRecords(SHORT_CHAT, LONG_CHAT)
const creds = baileys.initAuthCreds()
const version = appStateVersion(5000)
const batch = preKeys(812)
const batchIds = Object.keys(batch)
const batchResults = resultsBuffer(batchIds.map((id) => encodeBlob(batch[id], 'value')))

const cases = [
  storeCase(`session record, ${LONG_CHAT} msgs`, records.long, () => encodeBlob(records.long, 'value'), (b) => decodeValue(b)),
  storeCase(`session record, ${SHORT_CHAT} msgs`, records.short, () => encodeBlob(records.short, 'value'), (b) => decodeValue(b)),
  storeCase('812 pre-keys (keys.set batch / get results)', batch, () => encodeBatch({ 'pre-key': batch }), () => decodeResults(batchResults, batchIds)),
  storeCase('creds (initAuthCreds)', creds, () => encodeCreds(creds), (b) => decodeValue(b)),
  storeCase('app-state-sync-version, 5,000 entries', version, () => encodeBlob(version, 'value'), (b) => decodeValue(b)),
]

// ---- report -------------------------------------------------------------------------------

if (opts.json) {
  console.log(JSON.stringify({ node: process.version, cases }, null, 2))
} else {
  const us = (x) => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0))
  const ratio = (a, b) => `${(a / b).toFixed(2)}×`
  const rows = [
    ['value', 'codec B', 'JSON B', 'encode µs', 'BufferJSON stringify µs', 'JSON.stringify µs', 'decode µs', 'BufferJSON parse µs', 'JSON.parse µs', 'encode / JSON.stringify', 'decode / JSON.parse'],
    ...cases.map((c) => [
      c.name, String(c.codecBytes), String(c.jsonBytes),
      us(c.encode), us(c.bufferJsonStringify), us(c.jsonStringify),
      us(c.decode), us(c.bufferJsonParse), us(c.jsonParse),
      ratio(c.encode, c.jsonStringify), ratio(c.decode, c.jsonParse),
    ]),
  ]
  console.log(`node ${process.version}; medians of ${ROUNDS} warm samples; CPU µs per call; ratios < 1 mean the codec is faster`)
  console.log('')
  console.log(`| ${rows[0].join(' | ')} |`)
  console.log(`| ${rows[0].map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`)
  for (const row of rows.slice(1)) console.log(`| ${row.join(' | ')} |`)
}
