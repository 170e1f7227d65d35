'use strict'
// The owner's cache (docs/ownership.md): the handle that owns a session is its only writer, so
// it may keep that session's decoded key values in memory and answer reads from there.
//
// The rules, each a promise to the caller:
// - Durable first, then cached: a write's values enter the cache only once the store has
//   acknowledged the write; a write that failed without writing leaves the cache as it was
//   before the call, and one whose outcome is unknown (a networked store did not answer in
//   time) makes it forget the keys it touched.
// - A get issued after an un-awaited set sees the set: while a write of a key is in flight,
//   reads of that key go to the store, which applies operations in issue order.
// - A value from the cache is indistinguishable from one decoded from the store, and mutating
//   it changes nothing the cache holds: the cache keeps its own copy and hands out copies.
//   What is written is the copy (not the caller's object), so the store and the cache hold
//   the same value by construction; a value the copy cannot reproduce exactly as the codec
//   would (a toJSON, a class instance, a serialized-Buffer shape, undefined, -0...) is written
//   as given and not cached.
// - Bounded: at most `maxBytes` of (estimated) value bytes, least recently used out first.
// - Large values are lent (see LEND_BYTES): a hit hands the cache's copy out and forgets it.
// - App-state versions are kept as an AppStateCopy (lib/app-state-cache.js): a write of one is
//   diffed against it and writes only the pieces that changed; a hit builds a new value from it.

const { classifyEntries } = require('./buffer-json.js')
const { setEntry } = require('./codec.js')
const { TYPE: APP_STATE } = require('./app-state.js')
const { AppStateCopy } = require('./app-state-cache.js')

/** The default bound of one handle's cache, in bytes of values. */
const DEFAULT_CACHE_BYTES = 8 * 1024 * 1024

/**
 * Values larger than this (estimated bytes) are lent, not copied: a hit hands out the cache's
 * own copy and forgets it. Copying a 60 KB session record costs about as much as decoding it
 * (V8 builds its many-keyed objects one property at a time), so a copy per hit would gain
 * little; libsignal reads a session once per message and then writes it, so the next read
 * finds the copy the write made. A large value read from the store is not kept either.
 */
const LEND_BYTES = 16 * 1024

/** A per-entry overhead in the byte estimate: a Map slot, its key and the entry object. */
const ENTRY_OVERHEAD = 64

const MAX_DEPTH = 128

/**
 * A deep copy of a value about to be written, as the codec would decode it after encoding it:
 * `{ copy, bytes, exact }`. Strings are shared (they are immutable); Buffers and Uint8Arrays
 * become new Buffers; getters are read once, here, and the copy holds what they returned.
 * It follows the codec's rules: a property that is undefined is dropped, undefined in an array
 * is null, -0 is 0, a number that is not finite is null. Where the codec would not give back
 * what a plain copy holds (a toJSON, a class instance, a serialized-Buffer shape, a function...),
 * the copy keeps the original there for the encoder to judge, and `exact` is false: such a
 * value is written but not cached.
 * Either way the encoder reads the copy, so that nothing of the caller's is read twice.
 */
function copyValue(value) {
  const ctx = { bytes: 0, exact: true }
  try {
    const copy = copyAny(value, ctx, 0)
    return { copy, bytes: ctx.bytes, exact: ctx.exact }
  } catch {
    // A Proxy's trap or a getter threw: the encoder meets it again and says why.
    return { copy: value, bytes: 0, exact: false }
  }
}

function inexact(ctx, value) {
  ctx.exact = false
  return value
}

function copyAny(value, ctx, depth) {
  switch (typeof value) {
    case 'string':
      ctx.bytes += value.length + 8
      return value
    case 'boolean':
      ctx.bytes += 1
      return value
    case 'number':
      ctx.bytes += 8
      // The codec stores -0 as 0 and a number that is not finite as null, as JSON does.
      return Number.isFinite(value) ? value + 0 : null
    case 'object':
      if (value === null) return value
      if (depth >= MAX_DEPTH) return inexact(ctx, value)
      return copyObject(value, ctx, depth)
    case 'undefined':
      return null // in an array, as the codec stores it (an object drops the property: copyObject)
    default:
      return inexact(ctx, value) // functions, symbols, bigints: the encoder refuses them
  }
}

function copyObject(value, ctx, depth) {
  if (value instanceof Uint8Array) {
    ctx.bytes += value.byteLength + 16
    return Buffer.from(value) // a copy
  }
  const proto = Object.getPrototypeOf(value)
  if (Array.isArray(value)) {
    if (proto !== Array.prototype) return inexact(ctx, value)
    const out = new Array(value.length)
    for (let i = 0; i < value.length; i++) out[i] = copyAny(value[i], ctx, depth + 1)
    ctx.bytes += 16
    return out
  }
  if ((proto !== Object.prototype && proto !== null) || typeof value.toJSON === 'function') return inexact(ctx, value)
  const all = Object.keys(value)
  // As the codec does: properties that are undefined are dropped, then the rest is classified.
  const keys = []
  const items = []
  for (const key of all) {
    const item = value[key]
    if (item === undefined) continue
    keys.push(key)
    items.push(item)
  }
  const out = {}
  if (classifyEntries(keys, items) !== undefined) {
    // The codec makes it a Buffer (or refuses it): it judges these very entries, read once.
    for (let i = 0; i < keys.length; i++) setEntry(out, keys[i], items[i])
    return inexact(ctx, out)
  }
  for (let i = 0; i < keys.length; i++) {
    setEntry(out, keys[i], copyAny(items[i], ctx, depth + 1)) // '__proto__' is a key like any other
    ctx.bytes += keys[i].length + 8
  }
  return out
}

/**
 * Whether a decoded value's estimated size stays within LEND_BYTES, found without copying it
 * (a walk that stops as soon as it is over).
 */
function fitsCopy(value, size, depth = 0) {
  switch (typeof value) {
    case 'string':
      size.bytes += value.length + 8
      break
    case 'object':
      if (value === null) break
      if (value instanceof Uint8Array) {
        size.bytes += value.byteLength + 16
        break
      }
      if (depth >= MAX_DEPTH) return false
      for (const key of Object.keys(value)) {
        size.bytes += key.length + 8
        if (!fitsCopy(value[key], size, depth + 1)) return false
      }
      break
    default:
      size.bytes += 8
  }
  return size.bytes <= LEND_BYTES
}

/** A copy of a value the cache holds (exact by construction). */
function copyKnown(value) {
  return copyAny(value, { bytes: 0, exact: true }, 0)
}

/** The cache key of (type, id): the type's length keeps `a`+`bc` apart from `ab`+`c`. */
const cacheKey = (type, id) => `${type.length}:${type}${id}`

class OwnerCache {
  #maxBytes
  /** key -> { value, bytes }, least recently used first */
  #entries = new Map()
  #bytes = 0
  #hits = 0
  #misses = 0
  /** key -> number of writes of it in flight */
  #pending = new Map()
  /** writes in flight that touch every key (keys.clear, deleteSession) */
  #pendingAll = 0
  /** key -> sequence number of the last write of it issued; and of the last session-wide write */
  #lastWrite = new Map()
  #lastWriteAll = 0
  /**
   * The latest write whose #lastWrite entry was dropped (none of its key in flight any more): a
   * read issued before it may settle after it, and must not fill the cache with what it read.
   */
  #forgottenWrite = 0
  #seq = 0

  constructor(maxBytes = DEFAULT_CACHE_BYTES) {
    this.#maxBytes = maxBytes
  }

  /**
   * A read: `{ found, missing, seq }`: copies of the cached values of `ids` (null for a key
   * known to be absent) and the ids to read from the store, with the read's sequence number
   * for fill().
   */
  lookup(type, ids) {
    const found = new Map()
    const missing = []
    for (const id of ids) {
      const key = cacheKey(type, id)
      const entry = this.#pendingAll === 0 && !this.#pending.has(key) ? this.#entries.get(key) : undefined
      if (entry === undefined) {
        this.#misses++
        missing.push(id)
        continue
      }
      this.#hits++
      if (entry.value instanceof AppStateCopy) {
        this.#entries.delete(key)
        this.#entries.set(key, entry) // most recently used: to the end
        found.set(id, entry.value.materialize(copyKnown))
        continue
      }
      this.#entries.delete(key)
      if (entry.bytes > LEND_BYTES) {
        this.#bytes -= entry.bytes
        found.set(id, entry.value) // lent: the caller owns it now
        continue
      }
      this.#entries.set(key, entry) // most recently used: to the end
      found.set(id, entry.value === null ? null : copyKnown(entry.value))
    }
    return { found, missing, seq: ++this.#seq }
  }

  /** A value read from the store by the read numbered `seq`: cached unless a write issued since supersedes it. */
  fill(type, id, value, seq) {
    const key = cacheKey(type, id)
    const lastWrite = this.#lastWrite.get(key) ?? this.#forgottenWrite
    if (this.#lastWriteAll > seq || lastWrite > seq || this.#pendingAll > 0 || this.#pending.has(key)) return
    if (value === null) return this.#put(key, null, ENTRY_OVERHEAD)
    if (type === APP_STATE) {
      const copy = AppStateCopy.of(value, copyValue) // a decoded value: never throws
      if (copy !== null) return this.#put(key, copy, copy.bytes + ENTRY_OVERHEAD)
    }
    const size = { bytes: ENTRY_OVERHEAD, exact: true }
    if (!fitsCopy(value, size)) return // large: the caller has the only copy worth making
    const { copy, bytes, exact } = copyValue(value) // a decoded value: always exact
    if (exact) this.#put(key, copy, bytes + ENTRY_OVERHEAD)
  }

  /**
   * Before a keys.set: the data to write (copies, so that the store and the cache will hold the
   * same value) and a token for writeDone(). `data` passed the gate.
   */
  beginWrite(data) {
    // Everything is read first, so that a getter that throws leaves no write marked in flight.
    const given = []
    const passed = []
    for (const type of Object.keys(data)) {
      const byId = data[type]
      if (byId === null || byId === undefined) continue
      // Not a map of ids: passed on as it is, for the encoder to refuse with its own message.
      if (typeof byId !== 'object' || Array.isArray(byId)) passed.push([type, byId])
      else for (const id of Object.keys(byId)) given.push([type, id, byId[id]])
    }
    const seq = ++this.#seq
    const toWrite = {}
    const entries = []
    let outById
    let outType
    for (const [type, id, value] of given) {
      if (type !== outType || outById === undefined) {
        outById = {}
        outType = type
        setEntry(toWrite, type, outById)
      }
      const key = cacheKey(type, id)
      const entry = { key, value: null, bytes: ENTRY_OVERHEAD, cacheable: true, mutated: false }
      const appState = type === APP_STATE && value !== null && value !== undefined ? this.#prepareAppState(key, value) : null
      if (appState !== null) {
        entry.value = appState.copy
        entry.bytes += appState.copy.bytes
        entry.mutated = appState.mutated
        setEntry(outById, id, appState.toWrite)
      } else if (value !== null && value !== undefined) {
        const { copy, bytes, exact } = copyValue(value)
        entry.value = copy
        entry.bytes += bytes
        entry.cacheable = exact
        setEntry(outById, id, copy)
      } else {
        setEntry(outById, id, null)
      }
      entries.push(entry)
      this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1)
      this.#lastWrite.set(key, seq)
    }
    for (const [type, byId] of passed) setEntry(toWrite, type, byId)
    return { toWrite, token: { seq, entries } }
  }

  /**
   * A write of an app-state version: `{ copy, toWrite, mutated }`, the cache's copy made the new
   * value (`mutated`: the one it held, updated in place) and the pieces to write; null when it
   * cannot be held (it is then written whole, as any value).
   */
  #prepareAppState(key, value) {
    const idle = this.#pendingAll === 0 && !this.#pending.has(key)
    const held = idle ? this.#entries.get(key)?.value : undefined
    try {
      if (held instanceof AppStateCopy) {
        const toWrite = held.update(value, copyValue)
        if (toWrite !== null) return { copy: held, toWrite, mutated: true }
        this.#drop(key) // updated halfway: no longer the stored value
      }
      const copy = AppStateCopy.of(value, copyValue)
      return copy === null ? null : { copy, toWrite: copy.prepareAll(), mutated: false }
    } catch {
      // A Proxy's trap or a getter threw: the encoder meets it again and says why.
      this.#drop(key)
      return null
    }
  }

  /**
   * After the keys.set of `token` settled. `outcome`: 'ok' (the store acknowledged it), 'failed'
   * (it wrote nothing: the cache keeps what it had) or 'unknown' (a networked store did not
   * answer in time: the write may have been applied, so the cache forgets its keys and the next
   * read asks the store).
   */
  writeDone({ seq, entries }, outcome) {
    for (const { key, value, bytes, cacheable, mutated } of entries) {
      const left = this.#pending.get(key) - 1
      if (left === 0) this.#pending.delete(key)
      else this.#pending.set(key, left)
      const latest = this.#lastWrite.get(key) === seq
      if (latest && left === 0) {
        // fill() still compares a read issued before this write with it (see #forgottenWrite).
        this.#lastWrite.delete(key)
        this.#forgottenWrite = Math.max(this.#forgottenWrite, seq)
      }
      // The store kept the old value, and so does the cache, unless the write changed its copy.
      if (outcome === 'failed') {
        if (mutated) this.#drop(key)
        continue
      }
      // A later write of this key is in flight: it decides (reads bypass the cache meanwhile).
      if (outcome !== 'ok' || !latest || !cacheable) this.#drop(key)
      else this.#put(key, value, bytes)
    }
  }

  /** Before keys.clear or deleteSession: a token for everyDone(). */
  beginEvery() {
    this.#pendingAll++
    this.#lastWriteAll = ++this.#seq
    return this.#seq
  }

  /** After keys.clear or deleteSession settled (`outcome` as for writeDone). */
  everyDone(_token, outcome) {
    this.#pendingAll--
    if (outcome !== 'failed') this.clear()
  }

  /** Forgets every value (the handle lost the session, or its keys were cleared). */
  clear() {
    this.#entries.clear()
    this.#bytes = 0
  }

  stats() {
    const lookups = this.#hits + this.#misses
    return {
      entries: this.#entries.size,
      bytes: this.#bytes,
      maxBytes: this.#maxBytes,
      hits: this.#hits,
      misses: this.#misses,
      hitRate: lookups === 0 ? 0 : this.#hits / lookups,
    }
  }

  #put(key, value, bytes) {
    this.#drop(key)
    if (bytes > this.#maxBytes) return
    this.#entries.set(key, { value, bytes })
    this.#bytes += bytes
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break
      this.#entries.delete(oldest)
      this.#bytes -= entry.bytes
    }
  }

  #drop(key) {
    const entry = this.#entries.get(key)
    if (entry === undefined) return
    this.#entries.delete(key)
    this.#bytes -= entry.bytes
  }
}

module.exports = { OwnerCache, DEFAULT_CACHE_BYTES, LEND_BYTES, copyValue }
