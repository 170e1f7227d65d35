// Review of issue 13's codec speedups (lib/codec.js): the fast object path must write the same
// bytes as the encoder before it (f409501), which judged the Buffer shape on the entries left
// after dropping undefined properties, as JSON.stringify drops them.
import { createRequire } from 'node:module'

import test from 'ava'

const require = createRequire(import.meta.url)
const codec = require('../lib/codec.js')
const { reviveBuffers } = require('../lib/buffer-json.js')

const blob = (value) => codec.encodeBlob(value, 'v')

// FINDING (review13), fixed: `mayBeSerializedBuffer` decides from Object.keys() before undefined
// properties are dropped, so `{0: 1, 1: 2, x: undefined}` took the plain path and was stored as
// an object, while `{0: 1, 1: 2}` (what JSON.stringify makes of both) is stored as the bytes
// 01 02, as it was before issue 13 for both. The plain path now holds back its leading
// integer-like entries holding numbers and lets the Buffer rule judge them if nothing else is
// kept. __test__/codec-differential.test.mjs holds the encoder to f409501's over random values.
test('an object of integer-like keys with an undefined property is stored as the same bytes as without it', (t) => {
  const withUndefined = { 0: 1, 1: 2, x: undefined }
  const without = { 0: 1, 1: 2 }
  // The folder import (JSON text through the same Buffer rule) makes it a Buffer too.
  t.deepEqual(reviveBuffers('', JSON.parse(JSON.stringify(withUndefined))), Buffer.from([1, 2]))
  t.is(blob(withUndefined).toString('hex'), blob(without).toString('hex'))
})

test('a property whose toJSON gives undefined does not change how its integer-like siblings are stored', (t) => {
  const dropped = { 0: 7, gone: { toJSON: () => undefined } }
  t.is(blob(dropped).toString('hex'), blob({ 0: 7 }).toString('hex'))
})

test('objects without dropped properties encode as the pre-issue-13 encoder did (bytes pinned from f409501)', (t) => {
  // Bytes produced by f409501's lib/codec.js for these values (a 200,000-value random
  // differential against it found differences only where a property was dropped).
  t.is(blob({ 0: 1, 1: 2 }).toString('hex'), '0106020102')
  t.is(blob(-2147483648).toString('hex'), '0103ffffffff0f')
  t.is(blob(2147483647).toString('hex'), '0103feffffff0f')
  t.is(blob({ ' 3': 16 }).toString('hex'), '01060110')
})
