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
/** How long after it began a rekey takes its last look at every session: twice the time a writer takes to learn of it. */
const SETTLE_MS = 2_000
/** Looks at every session before a rekey gives up finding nothing left to re-seal. */
const MAX_LOOKS = 10

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

/** Every session of the store: those with creds or keys, and those that only have a lease. */
async function sessionsOf(store) {
  const names = new Set(await store.sessions())
  for (const { session } of await store.leases()) names.add(session)
  return [...names].sort()
}

/**
 * One look at every session: each re-sealed as its temporary owner, or, while another process
 * owns it, looked at again every POLL_MS until that owner has re-sealed it or `deadline` passes.
 * Resolves to the values re-sealed, the sessions it re-sealed values of, and the sessions still
 * owned with values left.
 */
async function pass(native, sessions, deadline, report) {
  let resealedHere = 0
  const touched = []
  let done = 0
  let todo = sessions
  for (;;) {
    const left = []
    for (const session of todo) {
      const { resealed, stale, owner } = codec.decodeValue(await native.rekeySession(session, REKEY_LEASE_MS, hostName()))
      resealedHere += resealed
      if (resealed > 0) touched.push({ session, stale: resealed, owner: null })
      if (stale > 0) left.push({ session, stale, owner: ownerOf(owner) })
      else done += 1
      report({ session, resealed, stale, owner: ownerOf(owner), done, total: sessions.length })
    }
    todo = left.map(({ session }) => session)
    const now = Date.now()
    if (left.length === 0 || now >= deadline) return { resealed: resealedHere, touched, pending: left }
    // Owners re-seal their sessions when they renew their leases (every third of a lease).
    await sleep(Math.min(POLL_MS, deadline - now))
  }
}

/** Re-seals an encrypted store under a new key (see `rekey` in index.d.ts). */
async function rekey(options) {
  const read = rekeyOptions(options)
  const { store: url, storeOptions, waitMs, onProgress } = read
  const [from, to] = [await args.resolvedEncryption(read.from, 'options.from'), await args.resolvedEncryption(read.to, 'options.to')]
  const { store, openedWith } = await openEither(url, storeOptions, from, to)
  const native = nativeOf(store)
  try {
    const [start] = await native.rekeyBegin(to)
    if (start === 'only-key' && openedWith === 'from') {
      throw invalid('options.to is the key the store has already: there is nothing to change')
    }
    const begunAt = Date.now()
    const deadline = begunAt + waitMs
    const result = { sessions: 0, resealed: 0, finished: false, pending: [] }
    // A process that only writes reads the store's record again at most a second after the
    // rekey began (src/core/layers/cipher.rs, REFRESH_EVERY), and seals under the new value key
    // from then on: what it wrote before is found by a look at every session (new ones too)
    // taken after that. The rekey ends with a look that had nothing left to re-seal.
    for (let look = 0; ; look++) {
      if (look > 0) await sleep(Math.max(0, begunAt + SETTLE_MS - Date.now()))
      const sessions = await sessionsOf(store)
      const { resealed, touched, pending } = await pass(native, sessions, deadline, (event) => onProgress?.({ ...event, look }))
      result.sessions = sessions.length
      result.resealed += resealed
      if (pending.length > 0) {
        result.pending = pending
        break
      }
      if (look > 0 && resealed === 0) {
        await native.rekeyFinish(to)
        result.finished = true
        break
      }
      if (look >= MAX_LOOKS) {
        // Something keeps writing under an older value key (a process paused through the
        // rekey, say): the old key stays until a later rekey finds nothing left.
        result.pending = touched
        break
      }
    }
    return result
  } finally {
    await store.close()
  }
}

module.exports = { rekey, DEFAULT_WAIT_MS }
