// Baileys' serialized-Buffer rule (lib/buffer-json.js) is one rule: keys.set and the folder
// import agree on what is a Buffer, and both refuse a shape whose data is not bytes.
import test from 'ava'

import { importFolder, openStore } from '../index.mjs'
import { folderWith } from './helpers/folder-with.mjs'

const BROKEN = [
  ['data that is not base64', { type: 'Buffer', data: '%%%AQ' }],
  ['6.x value that is not base64', { buffer: true, value: 'AQ==!' }],
  ['data numbers beyond a byte', { type: 'Buffer', data: [1, 2, 256] }],
  ['data holding a string', { type: 'Buffer', data: [1, 'two'] }],
]

for (const [what, shape] of BROKEN) {
  test(`keys.set refuses a serialized Buffer with ${what}, and writes nothing`, async (t) => {
    const store = await openStore('memory:')
    await t.throwsAsync(store.setKeys('s', { 'pre-key': { 1: { public: shape } } }), { code: 'ERR_INVALID_ARG', message: /serialized Buffer/ })
    t.deepEqual(await store.getKeys('s', 'pre-key', ['1']), { 1: null })
    await store.close()
  })

  test(`a folder import reports a key file holding a serialized Buffer with ${what}, and writes nothing for it`, async (t) => {
    const folder = folderWith({ 'pre-key-1.json': { public: shape }, 'pre-key-2.json': { public: { type: 'Buffer', data: 'AQL/' } } })
    const store = await openStore('memory:')
    const result = await importFolder(folder, { session: 's', store })
    t.is(result.problems.length, 1)
    t.is(result.problems[0].file, 'pre-key-1.json')
    t.regex(result.problems[0].reason, /serialized Buffer/)
    t.deepEqual(await store.getKeys('s', 'pre-key', ['1', '2']), { 1: null, 2: { public: Buffer.from([1, 2, 255]) } })
    await store.close()
  })
}

test('keys.set and a folder import store a well-formed serialized Buffer as the same bytes', async (t) => {
  const shapes = { 1: { type: 'Buffer', data: 'AQL/' }, 2: { type: 'Buffer', data: [1, 2, 255] }, 3: { buffer: true, value: 'AQL/' }, 4: { 0: 1, 1: 2, 2: 255 } }
  const direct = await openStore('memory:')
  await direct.setKeys('s', { 'pre-key': Object.fromEntries(Object.entries(shapes).map(([id, v]) => [id, { public: v }])) })
  const folder = folderWith(Object.fromEntries(Object.entries(shapes).map(([id, v]) => [`pre-key-${id}.json`, { public: v }])))
  const imported = await openStore('memory:')
  const result = await importFolder(folder, { session: 's', store: imported })
  t.deepEqual(result.problems, [])
  const ids = Object.keys(shapes)
  const expected = Object.fromEntries(ids.map((id) => [id, { public: Buffer.from([1, 2, 255]) }]))
  t.deepEqual(await direct.getKeys('s', 'pre-key', ids), expected)
  t.deepEqual(await imported.getKeys('s', 'pre-key', ids), expected)
  t.deepEqual(await direct.listKeys('s'), await imported.listKeys('s'))
  await Promise.all([direct.close(), imported.close()])
})

// The byte check of a serialized Buffer's data array used every(), which skips holes: [1, , 3]
// was stored as the bytes 1, 0, 3, and a sparse array of length 2^32-1 blocked the event loop.
test("a serialized Buffer whose data array has holes is refused, a huge sparse one at once", async (t) => {
  const store = await openStore('memory:')
  const huge = []
  huge.length = 2 ** 32 - 1
  // eslint-disable-next-line no-sparse-arrays
  for (const data of [[1, , 3], [, 1], huge]) {
    await t.throwsAsync(store.setKeys('s', { t: { a: { type: 'Buffer', data } } }), { code: 'ERR_INVALID_ARG' })
    await t.throwsAsync(store.setCreds('s', { a: { type: 'Buffer', data } }), { code: 'ERR_INVALID_ARG' })
  }
  t.deepEqual(await store.sessions(), [], 'nothing was written')
  await store.close()
})

// Buffer.from(data) read the items again after the check: a getter answering 1 to the check and
// 300 to Buffer.from stored the byte 44, a value the rule refuses.
test("a serialized Buffer's data is read once: a getter cannot pass the check with a byte and store another number", async (t) => {
  const store = await openStore('memory:')
  let reads = 0
  const data = Object.defineProperty([0, 0], 0, { get: () => (reads++ === 0 ? 1 : 300), enumerable: true })
  await store.setKeys('s', { t: { a: { type: 'Buffer', data } } })
  const { a } = await store.getKeys('s', 't', ['a'])
  t.deepEqual([...a], [1, 0])
  await store.close()
})
