'use strict'
// The owner cache's copy of an app-state version (lib/app-state.js), kept so that a keys.set
// writes only the pieces that changed: the header's fields and each index's valueMac, in a
// compact form the cache never hands out. A write is diffed against it entry by entry (an index
// added, removed, or whose valueMac bytes differ marks its piece), and it is updated in place:
// the 5,000 unchanged entries of a typical patch are compared, not copied.
// A value it cannot hold exactly (an entry other than `{ valueMac: 32 bytes }`, a header field
// the owner cache would not copy exactly) is not kept: it is written whole, all pieces.

const { PIECES, PreparedPieces, pieceOf, isSplittable, headerOf } = require('./app-state.js')
const { setEntry } = require('./codec.js')

const MAC_BYTES = 32
/** A per-entry overhead in the byte estimate: a Map slot, a Set slot and the index string. */
const ENTRY_BYTES = MAC_BYTES + 160

/** The valueMac of an entry that is exactly `{ valueMac: <32 bytes> }` (as the codec would decode it), else undefined. */
function macOf(entry) {
  if (entry === null || typeof entry !== 'object' || Object.getPrototypeOf(entry) !== Object.prototype) return undefined
  const mac = entry.valueMac
  if (!(mac instanceof Uint8Array) || mac.byteLength !== MAC_BYTES) return undefined
  // One own property: anything else on the entry would be lost.
  for (const key in entry) if (key !== 'valueMac') return undefined
  return mac
}

class AppStateCopy {
  /** The header's fields (a copy the owner cache made: exact), without indexValueMap. */
  header
  /** index -> slot: the index's valueMac is bytes [slot * 32, slot * 32 + 32) of #macs. */
  #slots = new Map()
  #macs = Buffer.alloc(0)
  #free = []
  #used = 0
  /** The indexes of each piece. */
  #pieces = Array.from({ length: PIECES }, () => new Set())
  /** Per slot, the diff that last saw it (to find removed indexes). */
  #seen = new Uint32Array(0)
  #diffs = 0
  /**
   * Whether the next write must be all pieces: a copy made from a value read from the store
   * cannot tell whether it is stored in pieces or whole (as version 4 wrote it).
   */
  #unsplit = true

  /**
   * A copy of a whole value (one read from the store, or one about to be written), or null if
   * it cannot hold it exactly. `copyHeader(fields)`: the owner cache's copy, `{ copy, exact }`.
   */
  static of(value, copyHeader) {
    if (!isSplittable(value)) return null
    const held = new AppStateCopy()
    if (!held.#setHeader(value, copyHeader)) return null
    const map = value.indexValueMap
    for (const index of Object.keys(map)) {
      const entry = map[index]
      if (entry === undefined) continue
      const mac = macOf(entry)
      if (mac === undefined) return null
      held.#add(index, mac)
    }
    return held
  }

  get bytes() {
    return this.#slots.size * ENTRY_BYTES + this.#macs.byteLength
  }

  /**
   * Makes this copy `value` (a keys.set's) and returns what to write: a PreparedPieces with the
   * header and the pieces that changed, or null if `value` cannot be held (this copy is then
   * partly updated: the caller drops it and writes `value` whole).
   */
  update(value, copyHeader) {
    if (!isSplittable(value) || !this.#setHeader(value, copyHeader)) return null
    const map = value.indexValueMap
    const dirty = new Uint8Array(PIECES)
    const diff = ++this.#diffs
    let matched = 0
    for (const index of Object.keys(map)) {
      const entry = map[index]
      if (entry === undefined) continue
      const mac = macOf(entry)
      if (mac === undefined) return null
      const slot = this.#slots.get(index)
      if (slot === undefined) {
        dirty[this.#add(index, mac)] = 1
        this.#seen[this.#slots.get(index)] = diff
      } else {
        if (!this.#sameMac(slot, mac)) {
          this.#macs.set(mac, slot * MAC_BYTES)
          dirty[pieceOf(index)] = 1
        }
        this.#seen[slot] = diff
      }
      matched++
    }
    if (matched < this.#slots.size) {
      for (const [index, slot] of this.#slots) {
        if (this.#seen[slot] !== diff) dirty[this.#remove(index, slot)] = 1
      }
    }
    if (this.#unsplit) return this.prepareAll()
    const pieces = new Array(PIECES)
    for (let k = 0; k < PIECES; k++) if (dirty[k] === 1) pieces[k] = this.#piece(k)
    return new PreparedPieces(this.#storedHeader(), pieces)
  }

  /** All pieces: the first write of a copy. */
  prepareAll() {
    this.#unsplit = false
    const pieces = new Array(PIECES)
    for (let k = 0; k < PIECES; k++) pieces[k] = this.#piece(k)
    return new PreparedPieces(this.#storedHeader(), pieces)
  }

  /** The value, as a read decodes it: new objects and Buffers, nothing this copy holds. */
  materialize(copyHeader) {
    const value = copyHeader(this.header)
    const bytes = Buffer.from(this.#macs) // one copy; each valueMac is a view of it
    const map = {}
    for (const [index, slot] of this.#slots) {
      setEntry(map, index, { valueMac: bytes.subarray(slot * MAC_BYTES, (slot + 1) * MAC_BYTES) })
    }
    value.indexValueMap = map
    return value
  }

  #setHeader(value, copyHeader) {
    const fields = {}
    for (const key of Object.keys(value)) if (key !== 'indexValueMap') setEntry(fields, key, value[key])
    const { copy, exact } = copyHeader(fields)
    if (!exact) return false
    this.header = copy
    return true
  }

  /** The header as stored; the encoder reads it at once (before anything can change it). */
  #storedHeader() {
    return headerOf(this.header)
  }

  /** Piece k as stored (null when empty); its valueMacs are views the encoder reads at once. */
  #piece(k) {
    const indexes = this.#pieces[k]
    if (indexes.size === 0) return null
    const piece = {}
    for (const index of indexes) {
      const slot = this.#slots.get(index)
      setEntry(piece, index, { valueMac: this.#macs.subarray(slot * MAC_BYTES, (slot + 1) * MAC_BYTES) })
    }
    return piece
  }

  #sameMac(slot, mac) {
    const macs = this.#macs
    const at = slot * MAC_BYTES
    for (let i = 0; i < MAC_BYTES; i++) if (macs[at + i] !== mac[i]) return false
    return true
  }

  /** Adds an index (not held yet); returns its piece. */
  #add(index, mac) {
    let slot = this.#free.pop()
    if (slot === undefined) {
      slot = this.#used++
      if (slot * MAC_BYTES >= this.#macs.byteLength) this.#grow()
    }
    this.#macs.set(mac, slot * MAC_BYTES)
    this.#slots.set(index, slot)
    const k = pieceOf(index)
    this.#pieces[k].add(index)
    return k
  }

  #remove(index, slot) {
    this.#slots.delete(index)
    this.#free.push(slot)
    const k = pieceOf(index)
    this.#pieces[k].delete(index)
    return k
  }

  #grow() {
    const slots = Math.max(64, this.#used * 2)
    const macs = Buffer.alloc(slots * MAC_BYTES)
    this.#macs.copy(macs)
    this.#macs = macs
    const seen = new Uint32Array(slots)
    seen.set(this.#seen)
    this.#seen = seen
  }
}

module.exports = { AppStateCopy }
