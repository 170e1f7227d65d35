// The limits a copy reads its source under (lib/bounded-reads.js): a batch holds what fits in
// its byte budget, and no more bytes are being parsed at once than the in-flight budget allows.
import test from 'ava'
import { createRequire } from 'node:module'
import { setImmediate as nextTurn } from 'node:timers/promises'

const { ByteBudget, mapPrefix } = createRequire(import.meta.url)('../lib/bounded-reads.js')

/** Work that holds each item's `bytes` for a turn of the event loop, recording the peak held. */
function holding() {
  const seen = { held: 0, peak: 0, started: [] }
  const work = async (item, admit) => {
    await nextTurn() // as a file's open and fstat would
    const release = await admit(item.bytes)
    if (release === null) return 'left for the next batch'
    seen.started.push(item.name)
    seen.held += item.bytes
    seen.peak = Math.max(seen.peak, seen.held)
    await nextTurn()
    seen.held -= item.bytes
    release()
    return item.name
  }
  return { seen, work }
}

const items = (...sizes) => sizes.map((bytes, i) => ({ name: `item ${i}`, bytes }))

test('a batch is the longest prefix whose values fit in its byte budget, however many are read at once', async (t) => {
  const { seen, work } = holding()
  const results = await mapPrefix(items(30, 30, 30, 30, 30, 30, 30, 30), { concurrency: 32, maxBytes: 64, inFlight: new ByteBudget(1000) }, work)
  t.deepEqual(results, ['item 0', 'item 1'])
  t.deepEqual(seen.started, ['item 0', 'item 1'], 'the items left for the next batch are never read')
})

test('a batch holds at least its first value, however large', async (t) => {
  const { work } = holding()
  t.deepEqual(await mapPrefix(items(500, 1), { concurrency: 4, maxBytes: 64, inFlight: new ByteBudget(16) }, work), ['item 0'])
})

test('items that take no bytes (files that fail before they are read) stay in the batch', async (t) => {
  const failing = async () => new Error('not a regular file')
  const results = await mapPrefix(items(1, 1, 1), { concurrency: 2, maxBytes: 64, inFlight: new ByteBudget(16) }, failing)
  t.is(results.length, 3)
})

test('no more bytes are held at once than the in-flight budget, but a larger value is held alone', async (t) => {
  const { seen, work } = holding()
  const results = await mapPrefix(items(10, 10, 10, 10, 40, 10, 10), { concurrency: 8, maxBytes: 1000, inFlight: new ByteBudget(25) }, work)
  t.is(results.length, 7)
  t.is(seen.peak, 40, 'the 40-byte value alone; never three 10-byte values at once')
})
