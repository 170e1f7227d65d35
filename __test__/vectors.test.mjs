// The golden vectors (tests/vectors/*.json, format in docs/format.md): the JavaScript twins
// lib/codec.js and lib/wire.js write and read exactly these bytes. tests/vectors.rs holds the
// Rust twins to the same files, so the two implementations cannot drift apart.
import test from 'ava'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const codec = require('../lib/codec.js')
const wire = require('../lib/wire.js')

const load = (name) => JSON.parse(readFileSync(new URL(`../tests/vectors/${name}`, import.meta.url), 'utf8'))
const codecVectors = load('codec.json')
const wireVectors = load('wire.json')

/** A vector's JSON as the JavaScript value it stands for: `{"$bytes": "hex"}` is a Buffer. */
function fromJson(v) {
  if (Array.isArray(v)) return v.map(fromJson)
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v)
    if (keys.length === 1 && keys[0] === '$bytes') return Buffer.from(v.$bytes, 'hex')
    const out = {}
    for (const key of keys) codec.setEntry(out, key, fromJson(v[key]))
    return out
  }
  return v
}

const bytes = (hex) => Buffer.from(hex, 'hex')
const hexOf = (buf) => Buffer.from(buf).toString('hex')
const encodes = (vector) => !vector.encodedBy || vector.encodedBy.includes('js')

test('the vector files are not empty', (t) => {
  t.true(codecVectors.valid.length >= 40)
  t.true(codecVectors.invalid.length >= 10)
  for (const list of ['batches', 'results', 'keyLists', 'stats', 'invalid']) t.true(wireVectors[list].length >= 2, list)
})

// A vector no test reads would pass silently: a misspelt reader or encodedBy side, or an
// encodedBy list naming neither twin.
test('every vector is read by a test on at least one side', (t) => {
  for (const vector of wireVectors.invalid) t.true(['batch', 'results'].includes(vector.reader), `${vector.name}: reader ${vector.reader}`)
  for (const vector of codecVectors.valid) {
    if (!('encodedBy' in vector)) continue
    t.true(Array.isArray(vector.encodedBy) && vector.encodedBy.length > 0, `${vector.name}: encodedBy`)
    for (const side of vector.encodedBy) t.true(['js', 'rust'].includes(side), `${vector.name}: encodedBy ${side}`)
  }
})

for (const vector of codecVectors.valid) {
  if (encodes(vector)) {
    test(`codec: ${vector.name} encodes to its bytes`, (t) => {
      t.is(hexOf(codec.encodeBlob(fromJson(vector.value), 'vector')), vector.hex)
    })
  }
  test(`codec: ${vector.name} decodes from its bytes`, (t) => {
    const expected = fromJson('decoded' in vector ? vector.decoded : vector.value)
    const decoded = codec.decodeValue(bytes(vector.hex))
    t.deepEqual(decoded, expected)
    if (typeof expected === 'number') t.true(Object.is(decoded, expected), 'the same number, sign of zero included')
  })
}

for (const vector of codecVectors.invalid) {
  test(`codec: ${vector.name} is refused with ${vector.code}`, (t) => {
    t.throws(() => codec.decodeValue(bytes(vector.hex)), { code: vector.code })
  })
}

const blobOf = (value) => codec.encodeBlob(fromJson(value), 'vector')

for (const vector of wireVectors.batches) {
  test(`wire: batch "${vector.name}" is written as its bytes, by keys.set and by a copy`, (t) => {
    const data = {}
    for (const { type, id, value } of vector.writes) {
      data[type] ??= {}
      data[type][id] = fromJson(value)
    }
    t.is(hexOf(wire.encodeBatch(data)), vector.keysSetHex)
    const raw = vector.writes.map(({ type, id, value }) => ({ type, id, blob: value === null ? null : blobOf(value) }))
    t.is(hexOf(wire.encodeRawBatch(raw)), vector.hex)
  })
}

for (const vector of wireVectors.results) {
  test(`wire: results "${vector.name}" are read from their bytes`, (t) => {
    const expected = {}
    vector.ids.forEach((id, i) => codec.setEntry(expected, id, fromJson(vector.values[i])))
    t.deepEqual(wire.decodeResults(bytes(vector.hex), vector.ids), expected)
    const blobs = wire.splitResults(bytes(vector.hex), vector.ids.length)
    t.deepEqual(blobs.map((b) => (b === null ? null : hexOf(b))), vector.values.map((v) => (v === null ? null : hexOf(blobOf(v)))))
  })
}

for (const vector of wireVectors.keyLists) {
  test(`wire: key list "${vector.name}" is read from its bytes`, (t) => {
    t.deepEqual(wire.readKeyList(bytes(vector.hex)), vector.keys)
  })
}

for (const vector of wireVectors.stats) {
  test(`wire: stats "${vector.name}" are read from their bytes`, (t) => {
    const { credsBytes, types, updatedAt } = vector.stats
    const expected = { credsBytes, types: {}, updatedAt }
    for (const { type, count, bytes: size } of types) expected.types[type] = { count, bytes: size }
    const read = wire.readStats(bytes(vector.hex))
    t.deepEqual(read, expected)
    t.deepEqual(Object.keys(read.types), types.map((x) => x.type), 'types in the order Rust wrote them')
  })
}

// JavaScript reads results, never batches: the batch vectors bind the Rust reader only.
for (const vector of wireVectors.invalid.filter((v) => v.reader === 'results')) {
  test(`wire: results "${vector.name}" are refused with ${vector.code}`, (t) => {
    // (splitResults, which hands blobs on undecoded to another store, checks only the framing.)
    t.throws(() => wire.decodeResults(bytes(vector.hex), vector.ids), { code: vector.code })
  })
}
