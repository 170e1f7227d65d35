'use strict'
// Baileys' serialized-Buffer rule, in one place: what BufferJSON.replacer writes for a Buffer
// and which shapes its reviver (of any Baileys version) turns back into one. The codec
// (keys.set, creds) and the folder import both ask this module, so a value is a Buffer in one
// path exactly when it is one in the other.
//
// The shapes, as Baileys has written them over the years:
//   `{type: 'Buffer', data: '<base64>'}`   7.0's replacer
//   `{type: 'Buffer', data: [bytes]}`      6.7, and Buffer.prototype.toJSON
//   `{buffer: true, value: '<base64>'}`    6.x
//   `{"0": 1, "1": 2, ...}`                a Uint8Array that went through JSON.stringify without the replacer
// Where Baileys' reviver is lenient (Buffer.from('%%%AQ', 'base64') drops what is not base64,
// Buffer.from([256]) wraps to 0) a value would come back other than it was written: such a
// shape is *broken*, never a Buffer. The reviver leaves it as it is; the codec refuses it.

/** Strict base64: the standard alphabet, padding only at the end. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

// parseInt(key, 10) is a number: JavaScript white space, an optional sign, a digit.
const INTEGER_LIKE = /^[\s\uFEFF\xA0]*[+-]?[0-9]/

const isByte = (n) => Number.isInteger(n) && n >= 0 && n <= 255

/**
 * What an object's own entries (`keys[i]` → `items[i]`, the first `count` of them) are under
 * the rule: `{ bytes }` for a serialized Buffer, `{ broken, field }` for a tagged shape whose
 * data is not bytes (`broken` says why, `field` names the field), or undefined for any other
 * object.
 */
function classifyEntries(keys, items, count = keys.length) {
  if (count === 0) return undefined
  let data
  let field
  for (let i = 0; i < count; i++) {
    if ((keys[i] === 'type' && items[i] === 'Buffer') || (keys[i] === 'buffer' && items[i] === true)) {
      const name = keys[i] === 'type' ? 'data' : 'value'
      const where = keys.indexOf(name)
      if (where !== -1 && where < count) {
        data = items[where]
        field = name
      }
    }
  }
  if (typeof data === 'string') {
    if (!BASE64.test(data)) return { broken: "a serialized Buffer's data is not base64", field }
    return { bytes: Buffer.from(data, 'base64') }
  }
  if (Array.isArray(data)) {
    // Index by index, not every(): every() skips holes (so [1, , 3] became the bytes 1, 0, 3) and
    // visits each index of a huge sparse array; here the first hole is not a byte and ends it.
    // Each item read once, into the bytes: a getter cannot pass the check with a byte and then
    // give Buffer.from another number.
    const items = []
    for (let i = 0; i < data.length; i++) {
      const item = data[i]
      if (!isByte(item)) return { broken: "a serialized Buffer's data holds something other than bytes (integers 0 to 255)", field }
      items.push(item)
    }
    return { bytes: Buffer.from(items) }
  }
  for (let i = 0; i < count; i++) {
    // The cheap test first: most objects hold something other than numbers.
    if (typeof items[i] !== 'number' || !Number.isFinite(items[i]) || !INTEGER_LIKE.test(keys[i])) return undefined
  }
  // Buffer.from(array) converts each number with ToUint8, as Baileys' reviver does.
  return { bytes: Buffer.from(items.slice(0, count)) }
}

/**
 * A JSON.parse reviver: BufferJSON.reviver of every Baileys version, strict. A broken shape
 * is left as it is (whoever stores it then refuses it, see lib/codec.js).
 */
function reviveBuffers(_key, value) {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
  const found = classifyEntries(Object.keys(value), Object.values(value))
  return found?.bytes ?? value
}

/** BufferJSON.replacer as Baileys 7 writes it: bytes as `{type: 'Buffer', data: base64}`. */
function replaceBuffers(_key, value) {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array || value?.type === 'Buffer') {
    return { type: 'Buffer', data: Buffer.from(value?.data || value).toString('base64') }
  }
  return value
}

module.exports = { classifyEntries, reviveBuffers, replaceBuffers, INTEGER_LIKE }
