'use strict'
// The copy engine: moving a session from a useMultiFileAuthState folder or a store into a
// store, exactly and verifiably (docs/migrating.md). lib/transfer/migrate.js runs it for the
// public functions; lib/transfer/export.js runs it towards a folder.
//
// One engine does every direction. A *source* lists its keys and reads them as codec blobs in
// batches bounded in keys and in bytes; the target is a native store. A copy:
//   1. refuses to touch a target session that has creds (a finished session) unless told to
//      overwrite it: if its creds equal the source's, it only verifies (re-running is safe);
//   2. otherwise resumes: keys already in the target with equal bytes are left alone, the
//      rest are written in batches, and keys of the unfinished session that the source does
//      not provide are removed;
//   3. writes the creds last, so a session is only usable once every key is in; a key that
//      disappears from the source meanwhile fails the copy before that (the source is in use);
//   4. verifies both ways: every source key is in the target with an equal value, and the
//      target holds nothing else for the session.

const path = require('node:path')
const codec = require('../codec.js')
const wire = require('../wire.js')
const { WholeValues } = require('./whole.js')
const { ErrorCodes, storeError } = require('../errors.js')
const { listFolder, readJsonFile, jsonText, MAX_FILE_BYTES } = require('../folder.js')
const { KeyMap } = require('../key-map.js')
const { ByteBudget, mapPrefix } = require('../bounded-reads.js')

const DEFAULT_BATCH_SIZE = 500
/**
 * A batch is cut short once its values reach this many bytes, whatever the batch size: a
 * batch is held in memory (and copied once more to be written) until it is written.
 */
const BATCH_BYTES = 64 * 1024 * 1024
/**
 * Files a folder source has open at once, and the bytes of them it may parse at once: the
 * count keeps the disk busy, the bytes bound the memory.
 */
const READ_CONCURRENCY = 32
const READ_BYTES_IN_FLIGHT = MAX_FILE_BYTES
/** How many mismatches an ERR_VERIFY_FAILED message lists (err.mismatches has them all). */
const SHOWN_MISMATCHES = 10

const invalid = (message, cause) => storeError(ErrorCodes.INVALID_ARG, message, cause)
const describeKey = ({ type, id }) => `${type} ${JSON.stringify(id)}`

// `native`: a native store, or a WholeValues view of one (lib/transfer/whole.js).

/** A store's keys of a session: `[{ type, id, bytes }]`, sorted. */
async function listStoreKeys(native, session) {
  if (native instanceof WholeValues) return native.list(session)
  return wire.readKeyList(await native.listKeys(session))
}

/** The stored blobs of `entries` (null where absent), reading one type per call. */
async function readStoreBlobs(native, session, entries) {
  const blobs = new Array(entries.length).fill(null)
  const byType = new Map()
  entries.forEach((entry, i) => {
    if (!byType.has(entry.type)) byType.set(entry.type, [])
    byType.get(entry.type).push(i)
  })
  for (const [type, indexes] of byType) {
    const ids = indexes.map((i) => entries[i].id)
    const found = native instanceof WholeValues ? await native.read(session, type, ids) : wire.splitResults(await native.getKeys(session, type, ids), ids.length)
    indexes.forEach((at, n) => {
      blobs[at] = found[n]
    })
  }
  return blobs
}

// A source lists its keys (`entries`), says what it cannot provide (`problems`), and reads
// values with `read(entries)`: for a prefix of `entries` (all of them if they fit in
// BATCH_BYTES, at least one), one result per entry: the value as a codec blob, an Error saying
// why it cannot be imported (a folder's bad file), or null when the key has disappeared
// since it was listed (the source is in use).

/** A useMultiFileAuthState folder as a source. Reading it never modifies it. */
async function folderSource(folder, { types = [] } = {}) {
  let listing
  try {
    listing = await listFolder(folder, types)
  } catch (err) {
    throw invalid(err.message, err)
  }
  if (!listing.creds) {
    throw invalid(`${folder} has no creds.json: it is not a useMultiFileAuthState folder, or its session was never paired`)
  }
  return {
    entries: listing.keys,
    problems: listing.problems,
    async credsBlob() {
      let creds
      try {
        creds = await readJsonFile(folder, 'creds.json')
      } catch (err) {
        throw storeError(ErrorCodes.STORE_CORRUPT, `${path.join(folder, 'creds.json')} cannot be read: ${err.message}`, err)
      }
      if (typeof creds !== 'object' || creds === null || Array.isArray(creds)) {
        throw storeError(ErrorCodes.STORE_CORRUPT, `${path.join(folder, 'creds.json')} does not hold an object`)
      }
      return codec.encodeCreds(creds)
    },
    read(entries) {
      const limits = { concurrency: READ_CONCURRENCY, maxBytes: BATCH_BYTES, inFlight: new ByteBudget(READ_BYTES_IN_FLIGHT) }
      return mapPrefix(entries, limits, async (entry, admit) => {
        try {
          const value = await readJsonFile(folder, entry.file, admit)
          // Not read (left for the next batch): mapPrefix drops the result.
          return value === undefined ? undefined : codec.encodeBlob(value, entry.file)
        } catch (err) {
          return err
        }
      })
    },
  }
}

/** A session of a store as a source. */
async function storeSource(native, session) {
  const entries = await listStoreKeys(native, session)
  return {
    entries,
    problems: [],
    credsBlob: () => native.getCreds(session),
    // The listing's sizes cut the batch; a value that grew since costs a little more.
    read(batch) {
      let count = 1
      let bytes = batch[0].bytes
      while (count < batch.length && bytes + batch[count].bytes <= BATCH_BYTES) bytes += batch[count++].bytes
      return readStoreBlobs(native, session, batch.slice(0, count))
    },
  }
}

/** Calls `work(batch, results, done)` for the source's entries, a batch at a time, in order. */
async function forEachBatch(source, batchSize, work) {
  for (let done = 0; done < source.entries.length; ) {
    const results = await source.read(source.entries.slice(done, done + batchSize))
    const batch = source.entries.slice(done, done + results.length)
    done += batch.length
    await work(batch, results, done)
  }
}

function sameBlob(a, b, strict) {
  if (a.equals(b)) return true
  // Equal as Baileys sees them (a number written as 1.0 by another tool, say) when not strict.
  return !strict && jsonText(codec.decodeValue(a)) === jsonText(codec.decodeValue(b))
}

function progress(onProgress, event) {
  if (onProgress) onProgress(event)
}

/**
 * Refuses, before anything is written, a session the target cannot hold whole: a name longer
 * than the target takes (a SQL server's columns; `nameLimits` is null where any fits). Checked
 * here because the copy writes many batches: the target would refuse only the batch holding
 * the name, after the batches before it.
 */
function checkNames(target, session, entries) {
  const limits = target.nameLimits
  if (!limits) return
  const tooLong = (what, name, max) =>
    invalid(`session ${JSON.stringify(session)} cannot be copied into this store: ${what} is ${Buffer.byteLength(name)} bytes, and the store takes at most ${max} (nothing was written)`)
  if (Buffer.byteLength(session) > limits.session) throw tooLong('its id', session, limits.session)
  const start = (name) => JSON.stringify(name.length > 32 ? `${name.slice(0, 32)}…` : name)
  for (const { type, id } of entries) {
    if (Buffer.byteLength(type) > limits.type) throw tooLong(`the key type ${start(type)}`, type, limits.type)
    if (Buffer.byteLength(id) > limits.id) throw tooLong(`the key id ${start(id)} (of type ${type})`, id, limits.id)
  }
}

const disappeared = (entry) => `${describeKey(entry)} disappeared from the source during the copy`

/** ERR_VERIFY_FAILED for `session`, listing the first mismatches in its message and all in `err.mismatches`. */
function verifyFailed(session, mismatches, hint = '') {
  const shown = mismatches.slice(0, SHOWN_MISMATCHES).join('; ')
  const more = mismatches.length > SHOWN_MISMATCHES ? ` (and ${mismatches.length - SHOWN_MISMATCHES} more)` : ''
  const err = storeError(ErrorCodes.VERIFY_FAILED, `verification of session ${JSON.stringify(session)} failed: ${shown}${more}${hint}`)
  err.mismatches = mismatches
  return err
}

/**
 * Copies `source` into `session` of the `target` native store, then verifies it (see the top
 * of this file); `options.fence` goes with every write. Resolves to
 * `{ session, keys, written, unchanged, removed, problems }`: the
 * keys the session holds now, those of them written by this run and those already there with
 * equal bytes, the keys of an unfinished target session removed because the source does not
 * provide them, and what the source could not provide.
 */
async function copySession(source, target, session, options = {}) {
  // `fence`: the copy's lease on the target session (lib/ownership.js withSessionLease), sent
  // with every write, so that a copy taken over midway writes nothing more.
  const { overwrite = false, batchSize = DEFAULT_BATCH_SIZE, onProgress, strict = true, fence } = options
  const credsBlob = await source.credsBlob()
  if (!credsBlob) throw invalid(`session ${JSON.stringify(session)} has no creds in the source: there is nothing to copy`)
  checkNames(target, session, source.entries)
  const problems = [...source.problems]
  const result = { session, keys: 0, written: 0, unchanged: 0, removed: 0, problems }

  const targetCreds = await target.getCreds(session)
  if (targetCreds && overwrite) {
    await target.deleteSession(session, fence)
  } else if (targetCreds && !targetCreds.equals(credsBlob)) {
    throw invalid(
      `session ${JSON.stringify(session)} already exists in the target with other creds; ` +
        'choose another session id, or overwrite it (this replaces everything it holds)',
    )
  }
  const finished = targetCreds !== null && !overwrite

  // Keys of the source that cannot be imported (a folder's unreadable files).
  const failed = new KeyMap()
  if (!finished) {
    const present = new KeyMap()
    for (const key of await listStoreKeys(target, session)) present.set(key.type, key.id, key.bytes)
    const vanished = []
    await forEachBatch(source, batchSize, async (batch, blobs, done) => {
      // Keys the target may hold already, with the same length: compare their bytes.
      const maybeSame = []
      batch.forEach((entry, i) => {
        const blob = blobs[i]
        if (blob === null) vanished.push(disappeared(entry))
        else if (blob instanceof Error) {
          problems.push({ file: entry.file ?? describeKey(entry), reason: blob.message })
          failed.set(entry.type, entry.id, true)
        } else if (present.get(entry.type, entry.id) === blob.length) maybeSame.push(i)
      })
      const existing = await readStoreBlobs(target, session, maybeSame.map((i) => batch[i]))
      const same = new Set(maybeSame.filter((at, n) => existing[n] !== null && existing[n].equals(blobs[at])))
      const writes = []
      batch.forEach((entry, i) => {
        if (!Buffer.isBuffer(blobs[i])) return
        present.delete(entry.type, entry.id)
        if (same.has(i)) result.unchanged++
        else writes.push({ type: entry.type, id: entry.id, blob: blobs[i] })
      })
      if (writes.length > 0) await target.setKeys(session, wire.encodeRawBatch(writes), fence)
      result.written += writes.length
      progress(onProgress, { phase: 'copy', session, done, total: source.entries.length })
    })
    // Without creds the target session stays unfinished: running the copy again resumes it.
    if (vanished.length > 0) throw verifyFailed(session, vanished, '. The session is in use: stop the application using it and copy it again')
    // What is left belongs to this unfinished session but is not provided by the source; a
    // key whose file cannot be imported goes too, so the session holds what was imported.
    const extra = [...present.entries()].map(([type, id]) => ({ type, id, blob: null }))
    for (let i = 0; i < extra.length; i += batchSize) await target.setKeys(session, wire.encodeRawBatch(extra.slice(i, i + batchSize)), fence)
    result.removed = extra.length
    await target.setCreds(session, credsBlob, fence)
  }

  let verified
  try {
    verified = await verifySession(source, target, session, { batchSize, onProgress, strict, credsBlob, skip: failed, problems, copied: !finished })
  } catch (err) {
    if (finished && err.code === ErrorCodes.VERIFY_FAILED) {
      err.message += '. The session was already in the target with the same creds and has changed since (is it in use?); overwrite it to replace it with the source'
    }
    throw err
  }
  result.keys = verified.keys
  // A finished session is only verified: every key found equal was already there.
  if (finished) result.unchanged = verified.equal
  return result
}

/**
 * Checks both ways that `session` of `target` holds exactly what `source` holds, but for the
 * keys in `skip` (known not to be importable). A key the source cannot provide now is a
 * mismatch when this run `copied` it (it changed since), and otherwise a problem, added to
 * `problems` (a finished session being verified again). Throws ERR_VERIFY_FAILED listing the
 * differences; resolves to `{ keys, equal }`: the keys the session holds, and how many of them
 * were found equal to the source's.
 */
async function verifySession(source, target, session, options = {}) {
  const { batchSize = DEFAULT_BATCH_SIZE, onProgress, strict = true, skip = new KeyMap(), problems = [], copied = true } = options
  const credsBlob = options.credsBlob ?? (await source.credsBlob())
  const mismatches = []
  const targetCreds = await target.getCreds(session)
  if (!targetCreds) mismatches.push('the creds are missing')
  else if (!sameBlob(credsBlob, targetCreds, strict)) mismatches.push('the creds differ')

  const held = await listStoreKeys(target, session)
  const unexpected = new KeyMap()
  for (const key of held) unexpected.set(key.type, key.id, key)
  let equal = 0
  await forEachBatch(source, batchSize, async (batch, blobs, done) => {
    const stored = await readStoreBlobs(target, session, batch)
    batch.forEach((entry, i) => {
      unexpected.delete(entry.type, entry.id)
      if (skip.has(entry.type, entry.id)) return
      const blob = blobs[i]
      if (blob === null) mismatches.push(disappeared(entry))
      else if (blob instanceof Error && copied) mismatches.push(`${describeKey(entry)} could not be read again: ${blob.message}`)
      else if (blob instanceof Error) {
        const kept = stored[i] === null ? '' : '; the session keeps the value it already has'
        problems.push({ file: entry.file ?? describeKey(entry), reason: `${blob.message}${kept}` })
      } else if (stored[i] === null) mismatches.push(`${describeKey(entry)} is missing`)
      else if (!sameBlob(blob, stored[i], strict)) mismatches.push(`${describeKey(entry)} differs`)
      else equal++
    })
    progress(onProgress, { phase: 'verify', session, done, total: source.entries.length })
  })
  for (const [, , extra] of unexpected.entries()) mismatches.push(`${describeKey(extra)} is not in the source`)
  if (mismatches.length > 0) throw verifyFailed(session, mismatches)
  return { keys: held.length, equal }
}

module.exports = { DEFAULT_BATCH_SIZE, folderSource, storeSource, forEachBatch, copySession, verifySession, verifyFailed, disappeared, describeKey }
