'use strict'
// Baileys' app-state-sync-version values (an LTHashState: `{ version, hash, indexValueMap }`
// with thousands of index entries) are stored in pieces (docs/format.md, "App-state versions"),
// so that a patch that changes a few entries rewrites a few pieces, not the whole value:
// - the header, under the value's own id: every field but indexValueMap, plus PIECE_COUNT_FIELD;
// - PIECES pieces, under the ids `<id>\0<k>` of the same type: piece k holds the entries of
//   indexValueMap whose index hashes to k (pieceOf). An empty piece is not stored.
// A value that is not an LTHashState (no plain-object indexValueMap) is stored whole, as every
// value was before schema version 5; a whole value is read as it always was.
// Reads ask for the header and its pieces in one store read of one type (one snapshot), writes
// put them in one batch (all or nothing). This module is the format; lib/app-state-cache.js
// writes only the pieces that changed.

const { ErrorCodes, storeError } = require('./errors.js')
const { setEntry } = require('./codec.js')

const TYPE = 'app-state-sync-version'
/** Pieces per value: 5,000 entries make pieces of about 6 KB. Part of the format. */
const PIECES = 64
/** The header's field holding the number of pieces; a NUL-led name no LTHashState has. */
const PIECE_COUNT_FIELD = '\u0000pieces'
const SEPARATOR = '\u0000'

const pieceId = (id, k) => `${id}${SEPARATOR}${k}`
/** Whether an id of TYPE names a piece (ids of TYPE holding a NUL are the format's). */
const isPieceId = (id) => id.includes(SEPARATOR)

/** The piece of an index: FNV-1a (32 bits) of its UTF-16 code units, modulo PIECES. Part of the format. */
function pieceOf(index) {
  let hash = 0x811c9dc5
  for (let i = 0; i < index.length; i++) {
    hash ^= index.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % PIECES
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) return false
  const proto = Object.getPrototypeOf(value)
  return (proto === Object.prototype || proto === null) && typeof value.toJSON !== 'function'
}

/**
 * Whether `value` is stored in pieces: an object with a plain-object indexValueMap. A map with
 * an index named `type` or `data` is stored whole: a piece holding both would read as a Buffer.
 */
function isSplittable(value) {
  if (!isPlainObject(value)) return false
  const map = value.indexValueMap
  return isPlainObject(map) && !Object.hasOwn(map, 'type') && !Object.hasOwn(map, 'data') && !Object.hasOwn(value, PIECE_COUNT_FIELD)
}

/** Whether a stored value of TYPE is a header (else it is a whole value). */
const isHeader = (value) => isPlainObject(value) && Object.hasOwn(value, PIECE_COUNT_FIELD) && !Object.hasOwn(value, 'indexValueMap')

/** The header of `value`: its fields but indexValueMap, and the piece count. */
function headerOf(value) {
  const header = {}
  for (const key of Object.keys(value)) if (key !== 'indexValueMap') setEntry(header, key, value[key])
  header[PIECE_COUNT_FIELD] = PIECES
  return header
}

/** `value`'s indexValueMap cut into PIECES objects (null for an empty one). */
function piecesOf(map) {
  const pieces = new Array(PIECES).fill(null)
  for (const index of Object.keys(map)) {
    const entry = map[index]
    if (entry === undefined) continue // the codec drops an undefined property
    const k = pieceOf(index)
    setEntry((pieces[k] ??= {}), index, entry)
  }
  return pieces
}

/**
 * A write the app-state cache prepared: the header and the pieces that changed (piece k of
 * `pieces`, undefined for an unchanged one, null for one now empty). Only it may name pieces.
 */
class PreparedPieces {
  constructor(header, pieces) {
    this.header = header
    this.pieces = pieces
  }
}

const invalid = (message) => storeError(ErrorCodes.INVALID_ARG, message)

/**
 * `data` of a keys.set with its TYPE values turned into headers and pieces (every piece of a
 * value written whole or deleted is deleted, so that none outlives it). Other types are as given.
 */
function expandBatch(data) {
  const byId = data[TYPE]
  if (!isPlainObject(byId)) return data
  const out = {}
  for (const id of Object.keys(byId)) {
    if (isPieceId(id)) throw invalid(`${TYPE} ids cannot hold a NUL character (${JSON.stringify(id)}): the store uses such ids for the pieces of a value`)
    const value = byId[id]
    if (value instanceof PreparedPieces) {
      setEntry(out, id, value.header)
      value.pieces.forEach((piece, k) => piece !== undefined && setEntry(out, pieceId(id, k), piece))
      continue
    }
    if (isSplittable(value)) {
      setEntry(out, id, headerOf(value))
      piecesOf(value.indexValueMap).forEach((piece, k) => setEntry(out, pieceId(id, k), piece))
      continue
    }
    if (isPlainObject(value) && Object.hasOwn(value, PIECE_COUNT_FIELD)) {
      throw invalid(`${TYPE} ${JSON.stringify(id)} cannot have a field named ${JSON.stringify(PIECE_COUNT_FIELD)}: the store uses it`)
    }
    setEntry(out, id, value)
    for (let k = 0; k < PIECES; k++) setEntry(out, pieceId(id, k), null)
  }
  const expanded = {}
  for (const type of Object.keys(data)) setEntry(expanded, type, type === TYPE ? out : data[type])
  return expanded
}

/** The whole value of a header and its pieces (`pieceValue(k)`: piece k as stored, or null). */
function assemble(id, header, pieceValue) {
  if (header[PIECE_COUNT_FIELD] !== PIECES) {
    throw storeError(ErrorCodes.STORE_CORRUPT, `${TYPE} ${JSON.stringify(id)} has a header of ${header[PIECE_COUNT_FIELD]} pieces; this version knows ${PIECES}`)
  }
  const value = {}
  for (const key of Object.keys(header)) if (key !== PIECE_COUNT_FIELD) setEntry(value, key, header[key])
  const map = {}
  for (let k = 0; k < PIECES; k++) {
    const piece = pieceValue(k)
    if (piece === null || piece === undefined) continue
    if (!isPlainObject(piece)) throw storeError(ErrorCodes.STORE_CORRUPT, `piece ${k} of ${TYPE} ${JSON.stringify(id)} is not an object`)
    for (const index of Object.keys(piece)) setEntry(map, index, piece[index])
  }
  value.indexValueMap = map
  return value
}

/**
 * A keys.get of TYPE: `read(ids)` reads decoded values of the store (missing ones null), once,
 * for the asked ids and all their pieces; headers come back as whole values. A piece id asked
 * for reads as absent.
 */
async function getWhole(asked, read) {
  const ids = []
  for (const id of asked) {
    if (isPieceId(id)) continue
    ids.push(id)
    for (let k = 0; k < PIECES; k++) ids.push(pieceId(id, k))
  }
  const stored = ids.length === 0 ? {} : await read(ids)
  const values = {}
  for (const id of asked) {
    const value = isPieceId(id) ? null : stored[id]
    setEntry(values, id, isHeader(value) ? assemble(id, value, (k) => stored[pieceId(id, k)]) : value)
  }
  return values
}

/**
 * A key listing (`[{ type, id, bytes }]`, sorted) as users see it: the pieces of a TYPE value
 * are folded into its header's entry (their bytes counted there); pieces without a header
 * (none a batch leaves) are not listed.
 */
function foldList(list) {
  const out = []
  const headers = new Map()
  for (const entry of list) {
    if (entry.type !== TYPE) out.push(entry)
    else if (!isPieceId(entry.id)) {
      const copy = { ...entry }
      headers.set(entry.id, copy)
      out.push(copy)
    }
  }
  if (headers.size === 0) return out
  for (const entry of list) {
    if (entry.type !== TYPE || !isPieceId(entry.id)) continue
    const header = headers.get(entry.id.slice(0, entry.id.indexOf(SEPARATOR)))
    if (header) header.bytes += entry.bytes
  }
  return out
}

module.exports = {
  TYPE,
  PIECES,
  PIECE_COUNT_FIELD,
  PreparedPieces,
  pieceId,
  pieceOf,
  isPieceId,
  isSplittable,
  isHeader,
  headerOf,
  piecesOf,
  expandBatch,
  assemble,
  getWhole,
  foldList,
}
