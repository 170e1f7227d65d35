'use strict'
// A map keyed by (type, id) pairs, for the copy engine's bookkeeping. Types and ids are any
// strings, NUL included, so they are never joined into one string: `a\0b` + `c` and `a` +
// `b\0c` would become the same key, and a copy would delete or verify the wrong one.

class KeyMap {
  /** type -> (id -> value) */
  #types = new Map()
  #size = 0

  get size() {
    return this.#size
  }

  has(type, id) {
    return this.#types.get(type)?.has(id) ?? false
  }

  get(type, id) {
    return this.#types.get(type)?.get(id)
  }

  set(type, id, value) {
    let ids = this.#types.get(type)
    if (!ids) this.#types.set(type, (ids = new Map()))
    if (!ids.has(id)) this.#size++
    ids.set(id, value)
    return this
  }

  delete(type, id) {
    const ids = this.#types.get(type)
    if (!ids?.delete(id)) return false
    if (ids.size === 0) this.#types.delete(type)
    this.#size--
    return true
  }

  /** Every entry as `[type, id, value]`. */
  *entries() {
    for (const [type, ids] of this.#types) {
      for (const [id, value] of ids) yield [type, id, value]
    }
  }
}

module.exports = { KeyMap }
