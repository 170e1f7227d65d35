'use strict'
// rekey: an encrypted store re-sealed under a new key while applications keep using it
// (docs/encryption.md, "Rotation"). The steps are the encryption layer's (src/core/layers/
// cipher.rs, CipherControl): begin (the new key and a new value key join the store's record;
// the old key still opens it), every session re-sealed as its temporary owner (a session that a
// running process owns is re-sealed by that process when it next renews its lease, and only
// counted here), then finish (the new key is the only one left). Every step can be run again, so
// an interrupted rekey resumes where it stopped. Types and docs: index.d.ts.

const { setTimeout: sleep } = require('node:timers/promises')
const args = require('./args.js')
const codec = require('./codec.js')
const { defaultStoreUrl } = require('./default-store.js')
const { ErrorCodes, storeError } = require('./errors.js')
const { hostName } = require('./ownership.js')
const { openStore, nativeOf } = require('./store.js')

/** How long a rekey waits for running owners to re-seal their sessions, by default. */
const DEFAULT_WAIT_MS = 60_000
/** The rekey's own leases: short, so that a rekey killed on a Redis or SQL server store frees its session soon. */
const REKEY_LEASE_MS = 10_000
/** How often sessions that owners still hold are looked at again. */
const POLL_MS = 1_000

const invalid = (message) => storeError(ErrorCodes.INVALID_ARG, message)

function rekeyOptions(value) {
  const given = args.options(value, 'options')
  let read
  try {
    const { store, from, to, storeOptions, waitMs, onProgress } = given
    read = { store, from, to, storeOptions, waitMs, onProgress }
  } catch {
    throw invalid('options cannot be read')
  }
  if (read.from === undefined || read.from === null) throw invalid('options.from is required: the key the store has now, { key } or { passphrase }')
  if (read.to === undefined || read.to === null) throw invalid('options.to is required: the new key, { key } or { passphrase }')
  read.from = args.encryption(read.from, 'options.from')
  read.to = args.encryption(read.to, 'options.to')
  read.store ??= defaultStoreUrl()
  args.storeUrl(read.store, 'options.store')
  read.storeOptions = read.storeOptions === undefined ? {} : args.options(read.storeOptions, 'options.storeOptions')
  if ('encryption' in read.storeOptions) throw invalid('options.storeOptions.encryption: give the keys as options.from and options.to')
  if (read.waitMs === undefined) read.waitMs = DEFAULT_WAIT_MS
  if (!(Number.isSafeInteger(read.waitMs) && read.waitMs >= 0)) throw invalid('options.waitMs must be a whole number of ms, 0 or more')
  if (read.onProgress !== undefined && typeof read.onProgress !== 'function') throw invalid('options.onProgress must be a function')
  return read
}

/**
 * Opens the store with the old key, or, when that no longer opens it (a rekey to the new key
 * finished, or got far enough to be resumed with the new key only), with the new one.
 */
async function openEither(url, storeOptions, from, to) {
  const open = (encryption) => openStore(url, { ...storeOptions, create: false, encryption })
  try {
    return { store: await open(from), openedWith: 'from' }
  } catch (err) {
    if (err?.code !== ErrorCodes.STORE_KEY) throw err
    try {
      return { store: await open(to), openedWith: 'to' }
    } catch (second) {
      if (second?.code !== ErrorCodes.STORE_KEY) throw second
      throw storeError(ErrorCodes.STORE_KEY, `neither options.from nor options.to opens this store: ${err.message}`)
    }
  }
}

/** A session's owner as the rekey result shows it (times as Dates), or null. */
function ownerOf(owner) {
  if (owner === null || owner === undefined) return null
  return { host: owner.host, pid: owner.pid, acquiredAt: new Date(owner.acquiredAt), expiresAt: new Date(owner.expiresAt) }
}

/** Re-seals an encrypted store under a new key (see `rekey` in index.d.ts). */
async function rekey(options) {
  const { store: url, from, to, storeOptions, waitMs, onProgress } = rekeyOptions(options)
  const { store, openedWith } = await openEither(url, storeOptions, from, to)
  const native = nativeOf(store)
  try {
    const [start] = await native.rekeyBegin(to)
    if (start === 'only-key' && openedWith === 'from') {
      throw invalid('options.to is the key the store has already: there is nothing to change')
    }
    const names = new Set(await store.sessions())
    for (const { session } of await store.leases()) names.add(session)
    const sessions = [...names].sort()
    const result = { sessions: sessions.length, resealed: 0, finished: false, pending: [] }
    const deadline = Date.now() + waitMs
    let todo = sessions
    let done = 0
    for (;;) {
      const left = []
      for (const session of todo) {
        const { resealed, stale, owner } = codec.decodeValue(await native.rekeySession(session, REKEY_LEASE_MS, hostName()))
        result.resealed += resealed
        if (stale > 0) left.push({ session, stale, owner: ownerOf(owner) })
        else done += 1
        onProgress?.({ session, resealed, stale, owner: ownerOf(owner), done, total: sessions.length })
      }
      todo = left.map(({ session }) => session)
      const now = Date.now()
      if (left.length === 0 || now >= deadline) {
        result.pending = left
        break
      }
      // Owners re-seal their sessions when they renew their leases (every third of a lease).
      await sleep(Math.min(POLL_MS, deadline - now))
    }
    if (result.pending.length === 0) {
      await native.rekeyFinish(to)
      result.finished = true
    }
    return result
  } finally {
    await store.close()
  }
}

module.exports = { rekey, DEFAULT_WAIT_MS }
