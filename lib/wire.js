'use strict'
// How batches, results, key lists and stats cross between JavaScript and the native store,
// one buffer each (not a stored format). Twin of src/core/wire.rs: this side writes batches
// and reads results, key lists and stats; Rust reads batches (checking every value) and
// writes the rest. Values inside are codec blobs (lib/codec.js, twin of src/core/codec.rs).
// Both twins are held to tests/vectors/wire.json.
//
//   batch   = varint count, count × write
//   write   = varint len, type (UTF-8), varint len, id (UTF-8), 0 (delete) | 1 varint len value
//   results = varint count, count × (0 (absent) | 1 varint len value)
//   key list, stats = codec blobs (see readKeyList, readStats)

const { Writer, Reader, encodeValue, unstorableError, decodeValue, setEntry, corrupt, invalid } = require('./codec.js')

function isPlainObject(value, what) {
  try {
    return value !== null && typeof value === 'object' && !Array.isArray(value)
  } catch (err) {
    throw unstorableError(err, what) // a revoked Proxy
  }
}

/**
 * A keys.set batch as one buffer (src/core/wire.rs): `{ [type]: { [id]: value | null | undefined } }`,
 * null or undefined deleting. Throws ERR_INVALID_ARG before anything is sent.
 */
function encodeBatch(data) {
  // That `data` is an object was checked at the gate (lib/args.js).
  const w = new Writer(1024)
  const countAt = w.pos
  w.ensure(5)
  w.pos += 5 // the count, patched below as a fixed-width varint
  let count = 0
  let types
  try {
    types = Object.keys(data)
  } catch (err) {
    throw unstorableError(err, 'keys.set data')
  }
  for (const type of types) {
    let byId
    try {
      byId = data[type]
    } catch (err) {
      throw unstorableError(err, 'keys.set data')
    }
    if (byId === null || byId === undefined) continue
    const what = `keys.set data[${JSON.stringify(type)}]`
    if (!isPlainObject(byId, what)) throw invalid(`${what} must be an object`)
    // keys.get refuses an empty type, so a value stored under one could never be read.
    if (type === '') throw invalid('keys.set data: a key type must be a non-empty string')
    if (!type.isWellFormed()) throw invalid(`${what}: the type is not valid Unicode`)
    let ids
    try {
      ids = Object.keys(byId)
    } catch (err) {
      throw unstorableError(err, what)
    }
    for (const id of ids) {
      if (!id.isWellFormed()) throw invalid(`${what}: an id is not valid Unicode`)
      let value
      try {
        value = byId[id]
      } catch (err) {
        throw unstorableError(err, `${what}[${JSON.stringify(id)}]`)
      }
      w.text(type)
      w.text(id)
      if (value === null || value === undefined) {
        w.byte(0)
      } else {
        w.byte(1)
        // The value's length prefix is patched in once it is known.
        const lengthAt = w.pos
        w.ensure(5)
        w.pos += 5
        const start = w.pos
        encodeValue(value, `${what}[${JSON.stringify(id)}]`, w)
        fixedVarint(w.buf, lengthAt, w.pos - start)
      }
      count++
    }
  }
  fixedVarint(w.buf, countAt, count)
  return w.result()
}

/**
 * A batch of writes whose values are codec blobs already (`[{ type, id, blob }]`, `blob`
 * null to delete), for copying keys between stores without decoding them.
 */
function encodeRawBatch(writes) {
  const w = new Writer(1024)
  w.varint(writes.length)
  for (const { type, id, blob } of writes) {
    w.text(type)
    w.text(id)
    if (blob === null || blob === undefined) {
      w.byte(0)
    } else {
      w.byte(1)
      w.raw(blob)
    }
  }
  return w.result()
}

/** A varint in exactly 5 bytes (non-minimal, which every varint reader accepts). */
function fixedVarint(buf, at, n) {
  for (let i = 0; i < 4; i++) {
    buf[at + i] = (n % 0x80) | 0x80
    n = Math.floor(n / 0x80)
  }
  buf[at + 4] = n
}

/** The `{ [id]: value | null }` of a keys.get, from the results buffer (src/core/wire.rs). */
function decodeResults(buf, ids) {
  const r = new Reader(buf, 0, buf.length)
  const count = r.varint()
  if (count !== ids.length) throw corrupt('result count does not match the ids')
  const out = {}
  for (let i = 0; i < count; i++) {
    let value = null
    if (r.byte() === 1) {
      const n = r.length(1)
      try {
        value = decodeValue(buf, r.pos, r.pos + n)
      } catch (err) {
        err.message = `${err.message} (key ${JSON.stringify(ids[i])})`
        throw err
      }
      r.pos += n
    }
    setEntry(out, ids[i], value)
  }
  return out
}

/** The blobs of a results buffer, undecoded: a Buffer (a view into `buf`) or null per id. */
function splitResults(buf, count) {
  const r = new Reader(buf, 0, buf.length)
  if (r.varint() !== count) throw corrupt('result count does not match the ids')
  const blobs = []
  for (let i = 0; i < count; i++) {
    if (r.byte() === 1) {
      const n = r.length(1)
      blobs.push(buf.subarray(r.pos, r.pos + n))
      r.pos += n
    } else {
      blobs.push(null)
    }
  }
  return blobs
}

/** A session's key list (src/core/wire.rs `write_key_list`) as `[{ type, id, bytes }]`. */
function readKeyList(buf) {
  const triples = decodeValue(buf)
  return triples.map(([type, id, bytes]) => ({ type, id, bytes }))
}

/**
 * A session's stats (src/core/wire.rs `write_stats`): `{ credsBytes, types: { [type]: { count,
 * bytes } }, updatedAt }`, types in the order Rust wrote them.
 */
function readStats(buf) {
  return decodeValue(buf)
}

module.exports = { encodeBatch, encodeRawBatch, decodeResults, splitResults, readKeyList, readStats }
