'use strict'
// Baileys' useMultiFileAuthState folder format, read and written exactly (docs/migrating.md).
//
// A folder holds `creds.json` and one `<type>-<id>.json` per key, each the value as
// `JSON.stringify(value, BufferJSON.replacer)`. Baileys builds the file name with
// `name.replace(/\//g, '__').replace(/:/g, '-')`, which loses information, so a name is only
// understood per key type: the type is the longest known type the name starts with, and the
// id is un-mangled by that type's rule (below). Names that fit no known type are reported,
// never guessed.

const fs = require('node:fs')
const path = require('node:path')
const { reviveBuffers, replaceBuffers } = require('./buffer-json.js')

/**
 * Every key type Baileys writes (7.0 adds the last four to 6.7's six), and how its ids come
 * back from a file name. An id Baileys writes with `:` or `/` in it needs a rule; the others
 * are kept as they are (their `-` and `_` are real: old group ids are `creator-time@g.us`,
 * lid-mapping ids end in `_reverse`, tctoken keeps a `__index` entry).
 */
const ID_FROM_FILE_NAME = {
  'pre-key': (id) => id,
  session: (id) => id,
  // `group@g.us::user::device`: only the two last separators are Baileys'.
  'sender-key': (id) => {
    const match = /^(.*)--([^-]*)--(\d+)$/.exec(id)
    return match ? `${match[1]}::${match[2]}::${match[3]}` : null
  },
  'sender-key-memory': (id) => id,
  // Ids are standard base64, which has '/' but never '_'.
  'app-state-sync-key': (id) => id.replace(/__/g, '/'),
  'app-state-sync-version': (id) => id,
  'lid-mapping': (id) => id,
  'device-list': (id) => id,
  tctoken: (id) => id,
  'identity-key': (id) => id,
}

const KNOWN_TYPES = Object.freeze(Object.keys(ID_FROM_FILE_NAME))

/** Baileys' own mangling (useMultiFileAuthState's fixFileName). */
function fileNameOf(type, id) {
  return `${type}-${id}.json`.replace(/\//g, '__').replace(/:/g, '-')
}

/**
 * The key a file name stands for, `{ type, id }`, or `null` if the name is not a key file of
 * a known type (or of one of `extraTypes`, whose ids are taken as they are).
 */
function keyOfFileName(name, extraTypes = []) {
  if (!name.endsWith('.json')) return null
  const stem = name.slice(0, -'.json'.length)
  let best = null
  for (const type of [...KNOWN_TYPES, ...extraTypes]) {
    if (stem.startsWith(`${type}-`) && stem.length > type.length + 1 && (!best || type.length > best.length)) best = type
  }
  if (!best) return null
  const unmangle = ID_FROM_FILE_NAME[best] ?? ((id) => id)
  const id = unmangle(stem.slice(best.length + 1))
  // The name must be exactly what Baileys would write for the key: otherwise it is not its file.
  if (id === null || fileNameOf(best, id) !== name) return null
  return { type: best, id }
}

/** A folder's files: where its creds are, its key files, and what cannot be imported. */
async function listFolder(folder, extraTypes = []) {
  let dirents
  try {
    dirents = await fs.promises.readdir(folder, { withFileTypes: true })
  } catch (err) {
    const why = err.code === 'ENOENT' ? 'does not exist' : err.code === 'ENOTDIR' ? 'is not a folder' : `cannot be read (${err.message})`
    const error = new Error(`folder ${folder} ${why}`, { cause: err })
    error.folderMissing = true
    throw error
  }
  const keys = []
  const problems = []
  let creds = false
  for (const dirent of dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (dirent.name === 'creds.json' && dirent.isFile()) {
      creds = true
      continue
    }
    if (!dirent.isFile()) {
      problems.push({ file: dirent.name, reason: 'not a regular file' })
      continue
    }
    const key = keyOfFileName(dirent.name, extraTypes)
    if (key) keys.push({ file: dirent.name, ...key })
    else problems.push({ file: dirent.name, reason: 'not a key file of a known type' })
  }
  return { creds, keys, problems }
}

/**
 * The largest file an import reads, key file or creds.json. Real ones are far smaller: a
 * libsignal session record reaches about 100 KB after thousands of messages, an
 * app-state-sync-version with many thousand entries a few MB. A larger file is reported, never
 * read: a hostile folder (sparse files of gigabytes, say) cannot exhaust memory. Parsing a file
 * can take up to ~25 times its size (JSON.parse of an array of numbers, with the reviver), and
 * one such file is parsed at a time: 16 MiB keeps an import under ~400 MB whatever the folder.
 */
const MAX_FILE_BYTES = 16 * 1024 * 1024

// No symlinks (the listing refused them already: this closes the gap between listing and
// reading), and a FIFO swapped in meanwhile opens at once, to be refused by fstat, instead of
// blocking the import.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0)

function mebibytes(n) {
  const mib = n / 1024 / 1024
  return `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB`
}

/**
 * Reads and parses one file of the folder; throws an Error whose message says why not. Before
 * the file is read, `admit(size)` (if given) is awaited: it resolves to a function called
 * once the file is parsed (callers bound the bytes read at once with it), or to null, and
 * then the file is not read and the result is undefined.
 */
async function readJsonFile(folder, file, admit) {
  const handle = await fs.promises.open(path.join(folder, file), OPEN_FLAGS).catch((err) => {
    throw err.code === 'ELOOP' ? new Error('not a regular file (a symbolic link)') : err
  })
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw new Error('not a regular file')
    if (stat.size > MAX_FILE_BYTES) {
      throw new Error(`the file is ${mebibytes(stat.size)}, more than the ${mebibytes(MAX_FILE_BYTES)} a file may have`)
    }
    const release = admit ? await admit(stat.size) : () => {}
    if (release === null) return undefined
    try {
      return parseJson(await readAtMost(handle, stat.size))
    } finally {
      release()
    }
  } finally {
    await handle.close()
  }
}

/**
 * The `size` bytes fstat reported. A byte more is asked for, so that a file that grew since
 * fstat is noticed without ever reading more than MAX_FILE_BYTES + 1 bytes.
 */
async function readAtMost(handle, size) {
  const buffer = Buffer.allocUnsafe(size + 1)
  let length = 0
  for (;;) {
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
    if (bytesRead === 0) break
    length += bytesRead
    if (length > size) throw new Error('the file grew while it was read: is the session in use?')
  }
  return buffer.subarray(0, length)
}

function parseJson(bytes) {
  const text = bytes.toString('utf8')
  if (text.trim() === '') throw new Error('the file is empty')
  try {
    return JSON.parse(text, reviveBuffers)
  } catch (err) {
    throw new Error(`not valid JSON (${err.message})`)
  }
}

/** What a file holds as useMultiFileAuthState writes it. */
function jsonText(value) {
  return JSON.stringify(value, replaceBuffers)
}

module.exports = { KNOWN_TYPES, MAX_FILE_BYTES, fileNameOf, keyOfFileName, reviveBuffers, replaceBuffers, listFolder, readJsonFile, jsonText }
