'use strict'
// Writing a session of a store as a useMultiFileAuthState folder (docs/migrating.md): the copy
// engine of lib/transfer/copy.js run towards a folder, verified by reading the folder back as
// an import would.

const fs = require('node:fs')
const path = require('node:path')
const codec = require('../codec.js')
const { ErrorCodes, isAuthStoreError, storeError } = require('../errors.js')
const { jsonText, fileNameOf } = require('../folder.js')
const { WholeValues } = require('./whole.js')
const { DEFAULT_BATCH_SIZE, folderSource, storeSource, forEachBatch, verifySession, verifyFailed, disappeared, describeKey } = require('./copy.js')

const invalid = (message, cause) => storeError(ErrorCodes.INVALID_ARG, message, cause)
const progress = (onProgress, event) => onProgress?.(event)

/** Writes a session of a store as a useMultiFileAuthState folder (see exportFolder in lib/transfer/migrate.js). */
async function exportSession(native, session, folder, options = {}) {
  try {
    return await exportSessionTo(native, session, folder, options)
  } catch (err) {
    // The file system's own errors (a parent that is a file, no permission, a full disk) get
    // the package's code, as every rejection does.
    if (isAuthStoreError(err)) throw err
    throw storeError(ErrorCodes.STORE_IO, `export to ${folder} failed: ${err.message}`, err)
  }
}

/** The longest file name most file systems take, in bytes. */
const MAX_FILE_NAME_BYTES = 255

async function exportSessionTo(store, session, folder, options) {
  // A folder holds whole app-state versions; the store, their pieces.
  const native = new WholeValues(store)
  const { batchSize = DEFAULT_BATCH_SIZE, onProgress } = options
  const target = path.resolve(folder)
  const existing = await fs.promises.readdir(target).catch((err) => (err.code === 'ENOENT' ? null : Promise.reject(err)))
  if (existing !== null && existing.length > 0) {
    throw invalid(`${folder} is not empty: export writes a new folder and never mixes sessions`)
  }
  const source = await storeSource(native, session)
  const credsBlob = await source.credsBlob()
  if (!credsBlob) throw invalid(`session ${JSON.stringify(session)} has no creds in the store: nothing to export`)

  // Every key must have a file name of its own, and one a file system takes: checked before
  // anything is written.
  const owners = new Map()
  for (const entry of source.entries) {
    const name = fileNameOf(entry.type, entry.id)
    if (name.includes('\0')) throw invalid(`${describeKey(entry)} cannot be exported: a file name cannot hold a NUL character`)
    if (Buffer.byteLength(name) > MAX_FILE_NAME_BYTES) {
      throw invalid(`${describeKey(entry)} cannot be exported: its file name would be longer than ${MAX_FILE_NAME_BYTES} bytes`)
    }
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
    const vanished = []
    await forEachBatch(source, batchSize, async (batch, blobs, done) => {
      await Promise.all(
        batch.map(async (entry, i) => {
          if (blobs[i] === null) {
            vanished.push(disappeared(entry))
            return
          }
          const text = jsonText(codec.decodeValue(blobs[i]))
          await fs.promises.writeFile(path.join(staging, fileNameOf(entry.type, entry.id)), text, { mode: 0o600 })
        }),
      )
      progress(onProgress, { phase: 'copy', session, done, total: source.entries.length })
    })
    if (vanished.length > 0) throw verifyFailed(session, vanished, '. The session is in use: stop the application using it and export it again')
    await fs.promises.writeFile(path.join(staging, 'creds.json'), jsonText(codec.decodeValue(credsBlob)), { mode: 0o600 })

    // Verify both ways, reading the folder back as an import would.
    const written = await folderSource(staging)
    const mismatches = written.problems.map((p) => `${p.file}: ${p.reason}`)
    if (written.entries.length !== source.entries.length) mismatches.push(`${written.entries.length} key files for ${source.entries.length} keys`)
    if (mismatches.length > 0) throw verifyFailed(session, mismatches, '. The exported folder is not what was stored')
    await verifySession(written, native, session, { batchSize, onProgress, strict: false })

    if (existing !== null) await fs.promises.rmdir(target)
    await fs.promises.rename(staging, target)
  } catch (err) {
    await fs.promises.rm(staging, { recursive: true, force: true })
    throw err
  }
  return { session, keys: source.entries.length, folder: target }
}

module.exports = { exportSession }
