'use strict'
// Moving sessions between a useMultiFileAuthState folder and a store, or between two stores,
// exactly and verifiably (docs/migrating.md).
//
// One engine does every direction. A *source* lists its keys and reads them as codec blobs in
// chunks; the target is a native store. A copy:
//   1. refuses to touch a target session that has creds (a finished session) unless told to
//      overwrite it: if its creds equal the source's, it only verifies (re-running is safe);
//   2. otherwise resumes: keys already in the target with equal bytes are left alone, the
//      rest are written in batches, and keys of the unfinished session that the source does
//      not have are removed;
//   3. writes the creds last, so a session is only usable once every key is in;
//   4. verifies both ways: every source key is in the target with an equal value, and the
//      target holds nothing else for the session.

const fs = require('node:fs')
const path = require('node:path')
const codec = require('./codec.js')
const { ErrorCodes, storeError } = require('./errors.js')
const { listFolder, readJsonFile, jsonText, fileNameOf } = require('./folder.js')

const DEFAULT_BATCH_SIZE = 500
/** How many mismatches an ERR_VERIFY_FAILED message lists. */
const SHOWN_MISMATCHES = 10

const invalid = (message, cause) => storeError(ErrorCodes.INVALID_ARG, message, cause)
const keyOf = (type, id) => `${type}\u0000${id}`
const describeKey = ({ type, id }) => `${type} ${JSON.stringify(id)}`

function chunks(items, size) {
  const out = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** A store's keys of a session: `[{ type, id, bytes }]`, sorted. */
async function listStoreKeys(native, session) {
  const triples = codec.decodeValue(await native.listKeys(session))
  return triples.map(([type, id, bytes]) => ({ type, id, bytes }))
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
    const found = codec.splitResults(await native.getKeys(session, type, ids), ids.length)
    indexes.forEach((at, n) => {
      blobs[at] = found[n]
    })
  }
  return blobs
}

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
    /** A blob per entry, or an Error saying why its file cannot be imported. */
    readBlobs(entries) {
      return Promise.all(
        entries.map(async (entry) => {
          try {
            return codec.encodeBlob(await readJsonFile(folder, entry.file), entry.file)
          } catch (err) {
            return err
          }
        }),
      )
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
    async readBlobs(batch) {
      const blobs = await readStoreBlobs(native, session, batch)
      // A key listed a moment ago and gone now: the session is in use while being copied.
      return blobs.map((blob, i) => blob ?? new Error(`${describeKey(batch[i])} disappeared during the copy: is the session in use?`))
    },
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
 * Copies `source` into `session` of the `target` native store, then verifies it (see the top
 * of this file). Resolves to `{ session, keys, written, unchanged, removed, problems }`.
 */
async function copySession(source, target, session, options = {}) {
  const { overwrite = false, batchSize = DEFAULT_BATCH_SIZE, onProgress, strict = true } = options
  const credsBlob = await source.credsBlob()
  if (!credsBlob) throw invalid(`session ${JSON.stringify(session)} has no creds in the source: there is nothing to copy`)
  const problems = [...source.problems]
  const result = { session, keys: 0, written: 0, unchanged: 0, removed: 0, problems }

  const targetCreds = await target.getCreds(session)
  if (targetCreds && overwrite) {
    await target.deleteSession(session)
  } else if (targetCreds && !targetCreds.equals(credsBlob)) {
    throw invalid(
      `session ${JSON.stringify(session)} already exists in the target with other creds; ` +
        'choose another session id, or overwrite it (this replaces everything it holds)',
    )
  }
  const finished = targetCreds !== null && !overwrite

  const failed = new Set()
  if (!finished) {
    const present = new Map((await listStoreKeys(target, session)).map((k) => [keyOf(k.type, k.id), k.bytes]))
    let done = 0
    for (const batch of chunks(source.entries, batchSize)) {
      const blobs = await source.readBlobs(batch)
      // Keys the target may hold already, with the same length: compare their bytes.
      const maybeSame = []
      batch.forEach((entry, i) => {
        const blob = blobs[i]
        if (blob instanceof Error) {
          problems.push({ file: entry.file ?? describeKey(entry), reason: blob.message })
          failed.add(keyOf(entry.type, entry.id))
        } else if (present.get(keyOf(entry.type, entry.id)) === blob.length) {
          maybeSame.push(i)
        }
      })
      const existing = await readStoreBlobs(target, session, maybeSame.map((i) => batch[i]))
      const same = new Set(maybeSame.filter((at, n) => existing[n] !== null && existing[n].equals(blobs[at])))
      const writes = []
      batch.forEach((entry, i) => {
        present.delete(keyOf(entry.type, entry.id))
        if (blobs[i] instanceof Error) return
        if (same.has(i)) result.unchanged++
        else writes.push({ type: entry.type, id: entry.id, blob: blobs[i] })
      })
      if (writes.length > 0) await target.setKeys(session, codec.encodeRawBatch(writes))
      result.written += writes.length
      done += batch.length
      progress(onProgress, { phase: 'copy', session, done, total: source.entries.length })
    }
    // What is left belongs to this unfinished session but not to the source.
    const extra = [...present.keys()]
      .filter((k) => !failed.has(k))
      .map((k) => {
        const [type, id] = k.split('\u0000')
        return { type, id, blob: null }
      })
    for (const batch of chunks(extra, batchSize)) await target.setKeys(session, codec.encodeRawBatch(batch))
    result.removed = extra.length
    await target.setCreds(session, credsBlob)
  }

  try {
    await verifySession(source, target, session, { batchSize, onProgress, strict, credsBlob, skip: failed, problems })
  } catch (err) {
    if (finished && err.code === ErrorCodes.VERIFY_FAILED) {
      err.message += '. The session was already in the target with the same creds and has changed since (is it in use?); overwrite it to replace it with the source'
    }
    throw err
  }
  result.keys = source.entries.length - failed.size
  return result
}

/**
 * Checks both ways that `session` of `target` holds exactly what `source` holds. Throws
 * ERR_VERIFY_FAILED listing the differences.
 */
async function verifySession(source, target, session, options = {}) {
  const { batchSize = DEFAULT_BATCH_SIZE, onProgress, strict = true, skip = new Set(), problems = [] } = options
  const credsBlob = options.credsBlob ?? (await source.credsBlob())
  const mismatches = []
  const targetCreds = await target.getCreds(session)
  if (!targetCreds) mismatches.push('the creds are missing')
  else if (!sameBlob(credsBlob, targetCreds, strict)) mismatches.push('the creds differ')

  const unexpected = new Map((await listStoreKeys(target, session)).map((k) => [keyOf(k.type, k.id), k]))
  let done = 0
  for (const batch of chunks(source.entries, batchSize)) {
    const blobs = await source.readBlobs(batch)
    const stored = await readStoreBlobs(target, session, batch)
    batch.forEach((entry, i) => {
      const k = keyOf(entry.type, entry.id)
      unexpected.delete(k)
      if (skip.has(k)) return
      const blob = blobs[i]
      if (blob instanceof Error) {
        // Readable during the copy, not now: reported once, like the files that failed then.
        problems.push({ file: entry.file ?? describeKey(entry), reason: blob.message })
        skip.add(k)
      } else if (stored[i] === null) mismatches.push(`${describeKey(entry)} is missing`)
      else if (!sameBlob(blob, stored[i], strict)) mismatches.push(`${describeKey(entry)} differs`)
    })
    done += batch.length
    progress(onProgress, { phase: 'verify', session, done, total: source.entries.length })
  }
  for (const extra of unexpected.values()) mismatches.push(`${describeKey(extra)} is not in the source`)
  if (mismatches.length > 0) {
    const shown = mismatches.slice(0, SHOWN_MISMATCHES).join('; ')
    const more = mismatches.length > SHOWN_MISMATCHES ? ` (and ${mismatches.length - SHOWN_MISMATCHES} more)` : ''
    const err = storeError(
      ErrorCodes.VERIFY_FAILED,
      `verification of session ${JSON.stringify(session)} failed: ${shown}${more}`,
    )
    err.mismatches = mismatches
    throw err
  }
}

/** Writes a session of a store as a useMultiFileAuthState folder (see exportFolder in index.js). */
async function exportSession(native, session, folder, options = {}) {
  const { batchSize = DEFAULT_BATCH_SIZE, onProgress } = options
  const target = path.resolve(folder)
  const existing = await fs.promises.readdir(target).catch((err) => (err.code === 'ENOENT' ? null : Promise.reject(err)))
  if (existing !== null && existing.length > 0) {
    throw invalid(`${folder} is not empty: export writes a new folder and never mixes sessions`)
  }
  const source = await storeSource(native, session)
  const credsBlob = await source.credsBlob()
  if (!credsBlob) throw invalid(`session ${JSON.stringify(session)} has no creds in the store: nothing to export`)

  // Two ids Baileys would write to one file cannot both be exported.
  const owners = new Map()
  for (const entry of source.entries) {
    const name = fileNameOf(entry.type, entry.id)
    if (owners.has(name)) {
      throw invalid(`${describeKey(owners.get(name))} and ${describeKey(entry)} would both be written to ${name}`)
    }
    owners.set(name, entry)
  }

  // Written beside the destination and renamed into place when complete and verified, so an
  // interrupted export leaves no half folder under the name.
  await fs.promises.mkdir(path.dirname(target), { recursive: true })
  const staging = await fs.promises.mkdtemp(`${target}.export-`)
  try {
    let done = 0
    for (const batch of chunks(source.entries, batchSize)) {
      const blobs = await source.readBlobs(batch)
      await Promise.all(
        batch.map((entry, i) => {
          if (blobs[i] instanceof Error) throw blobs[i]
          const text = jsonText(codec.decodeValue(blobs[i]))
          return fs.promises.writeFile(path.join(staging, fileNameOf(entry.type, entry.id)), text, { mode: 0o600 })
        }),
      )
      done += batch.length
      progress(onProgress, { phase: 'copy', session, done, total: source.entries.length })
    }
    await fs.promises.writeFile(path.join(staging, 'creds.json'), jsonText(codec.decodeValue(credsBlob)), { mode: 0o600 })

    // Verify both ways, reading the folder back as an import would.
    const written = await folderSource(staging)
    const mismatches = written.problems.map((p) => `${p.file}: ${p.reason}`)
    if (written.entries.length !== source.entries.length) mismatches.push(`${written.entries.length} key files for ${source.entries.length} keys`)
    if (mismatches.length > 0) throw storeError(ErrorCodes.VERIFY_FAILED, `the exported folder is not what was stored: ${mismatches.join('; ')}`)
    await verifySession(written, native, session, { batchSize, onProgress, strict: false })

    if (existing !== null) await fs.promises.rmdir(target)
    await fs.promises.rename(staging, target)
  } catch (err) {
    await fs.promises.rm(staging, { recursive: true, force: true })
    throw err
  }
  return { session, keys: source.entries.length, folder: target }
}

module.exports = { DEFAULT_BATCH_SIZE, folderSource, storeSource, copySession, verifySession, exportSession, listStoreKeys }
