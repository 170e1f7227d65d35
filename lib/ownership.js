'use strict'
// One owner per session (docs/ownership.md). A SessionLease is the lease a handle holds on a
// session: taken before useRustAuthState returns, renewed in the background, given back on
// close(). Its fence (epoch and holder) goes with every write of the handle, and the store
// refuses the write, in the write's own transaction or script, once the lease has moved on.
//
// The handle learns that it lost the session in one of three ways, and reports it once
// (`lost`, `onLost`), after which every call rejects ERR_SESSION_FENCED at once:
// - a write or a renewal is refused ERR_SESSION_FENCED (taken over, or released elsewhere);
// - another useRustAuthState of the same session in this process took it over;
// - no renewal succeeded for 5/6 of leaseMs (the store is unreachable, the disk stuck, the
//   event loop blocked): reported before the lease can have expired in the store, so that the
//   app stops before a new owner may start.

const os = require('node:os')
const { ErrorCodes, storeError } = require('./errors.js')

/** The default lease: how long a session stays owned without renewal. */
const DEFAULT_LEASE_MS = 30000

/** `${store identity}\0${session}` -> the SessionLease of this process that owns it now. */
const owners = new Map()
/** The same key -> the acquisition of it in flight (settled, never rejecting), to queue behind. */
const acquiring = new Map()

const hostName = () => {
  try {
    return os.hostname()
  } catch {
    return 'unknown'
  }
}

class SessionLease {
  #store
  #session
  #leaseMs
  #fence
  #epoch
  #expiresAt
  #ownerKey
  /** performance.now() when the last successful acquisition or renewal was issued */
  #grantedAt
  #renewTimer
  #watchdog
  #renewing = false
  #lostError = null
  #resolveLost
  #onLost
  #released = false
  /** A promise that resolves (never rejects) with the ERR_SESSION_FENCED error once the session is lost. */
  lost

  constructor(store, session, leaseMs, granted, grantedAt, onLost) {
    this.#store = store
    this.#session = session
    this.#leaseMs = leaseMs
    this.#fence = granted.fence
    this.#epoch = granted.epoch
    this.#expiresAt = granted.expiresAt
    this.#grantedAt = grantedAt
    this.#onLost = onLost
    this.#ownerKey = `${store.identity}\0${session}`
    this.lost = new Promise((resolve) => {
      this.#resolveLost = resolve
    })
  }

  /**
   * Takes the session's lease on `store`. Without `takeover`, a lease held by another process
   * is refused ERR_SESSION_LOCKED (with `owner`); one held by a handle of this process is
   * taken over (Baileys' reconnect pattern), and that handle is told at once.
   */
  static async acquire(store, session, options = {}) {
    // Acquisitions of one session in this process run one after another, so that the last to
    // be granted is the newest lease (two stores of one file have two worker threads, which
    // could otherwise grant in one order and answer in the other, leaving both handles lost).
    const key = `${store.identity}\0${session}`
    const before = acquiring.get(key) ?? Promise.resolve()
    const turn = before.then(() => SessionLease.#acquireNow(store, session, options))
    const settled = turn.catch(() => {})
    acquiring.set(key, settled)
    settled.then(() => {
      if (acquiring.get(key) === settled) acquiring.delete(key)
    })
    return turn
  }

  static async #acquireNow(store, session, { leaseMs = DEFAULT_LEASE_MS, takeover = false, onLost }) {
    const issuedAt = performance.now()
    const granted = await store.acquireLease(session, { leaseMs, claim: takeover ? 'takeover' : 'process' })
    const lease = new SessionLease(store, session, leaseMs, granted, issuedAt, onLost)
    const previous = owners.get(lease.#ownerKey)
    owners.set(lease.#ownerKey, lease)
    previous?.lose(`a later useRustAuthState of this session in this process took it over (epoch ${granted.epoch})`)
    lease.#schedule()
    return lease
  }

  /** The token the handle's writes carry; throws ERR_SESSION_FENCED once the session is lost. */
  get fence() {
    if (this.#lostError) {
      throw storeError(ErrorCodes.SESSION_FENCED, this.#lostError.message, this.#lostError)
    }
    return this.#fence
  }

  get epoch() {
    return this.#epoch
  }

  get isLost() {
    return this.#lostError !== null
  }

  /** What stats() shows of the lease. */
  info() {
    return { epoch: this.#epoch, leaseMs: this.#leaseMs, expiresAt: new Date(this.#expiresAt), lost: this.#lostError !== null }
  }

  /** A call was refused ERR_SESSION_FENCED (or the lease is to be given up): the session is lost. */
  lose(reason) {
    if (this.#lostError) return
    const err =
      typeof reason === 'string'
        ? storeError(ErrorCodes.SESSION_FENCED, `session ${JSON.stringify(this.#session)} was lost: ${reason}`)
        : reason
    this.#lostError = err
    this.#stopTimers()
    if (owners.get(this.#ownerKey) === this) owners.delete(this.#ownerKey)
    this.#resolveLost(err)
    const onLost = this.#onLost
    // Called on its own turn: an exception in it is the application's, like a listener's.
    if (onLost) setImmediate(() => onLost(err))
  }

  /** Gives the lease back (close()). A lease that cannot be given back (store unreachable) lapses after leaseMs. */
  async release() {
    if (this.#released) return
    this.#released = true
    this.#stopTimers()
    if (owners.get(this.#ownerKey) === this) owners.delete(this.#ownerKey)
    // Even once lost: the store releases only a lease that still names this fence (one lost by
    // the watchdog may well still be ours there), and on SQLite a fenced release also gives the
    // session's lock file back. Without this call a lost handle kept it for the process's life.
    try {
      await this.#store.releaseLease(this.#session, this.#fence)
    } catch {
      // It lapses on its own; close() still closes.
    }
  }

  #stopTimers() {
    clearTimeout(this.#renewTimer)
    clearTimeout(this.#watchdog)
    this.#renewTimer = undefined
    this.#watchdog = undefined
  }

  /** Arms the next renewal (a third of the lease from now) and the watchdog (5/6 of the lease from the last grant). */
  #schedule(renewIn = this.#leaseMs / 3) {
    if (this.#released || this.#lostError) return
    clearTimeout(this.#renewTimer)
    this.#renewTimer = setTimeout(() => this.#renew(), renewIn)
    this.#renewTimer.unref()
    clearTimeout(this.#watchdog)
    const left = this.#grantedAt + (this.#leaseMs * 5) / 6 - performance.now()
    this.#watchdog = setTimeout(() => this.#expired(), Math.max(0, left))
    this.#watchdog.unref()
  }

  async #renew() {
    if (this.#renewing || this.#released || this.#lostError) return
    this.#renewing = true
    const issuedAt = performance.now()
    try {
      const renewed = await this.#store.renewLease(this.#session, this.#fence, this.#leaseMs)
      if (this.#released || this.#lostError) return
      this.#grantedAt = issuedAt
      this.#expiresAt = renewed.expiresAt
      this.#schedule()
    } catch (err) {
      if (this.#released) return // closed meanwhile: nothing more to report
      if (err?.code === ErrorCodes.SESSION_FENCED) return this.lose(err)
      if (err?.code === ErrorCodes.STORE_CLOSED) return this.lose(`its store was closed`)
      // Unreachable for now: try again soon; the watchdog reports the loss if it lasts.
      this.#schedule(Math.min(this.#leaseMs / 6, 2000))
    } finally {
      this.#renewing = false
    }
  }

  #expired() {
    if (this.#released || this.#lostError) return
    if (performance.now() - this.#grantedAt < (this.#leaseMs * 5) / 6) return this.#schedule(0)
    this.lose(`its lease could not be renewed for ${Math.round((this.#leaseMs * 5) / 6)} ms (leaseMs ${this.#leaseMs}), so another owner may take it soon`)
  }
}

/**
 * Runs `work(fence)` as the session's temporary owner, for tools (import, migrate, export,
 * deleteSession): a session another owner holds is refused ERR_SESSION_LOCKED, naming it,
 * unless `takeover` (that owner is then fenced). The lease is given back when `work` ends.
 */
async function withSessionLease(store, session, { takeover = false, leaseMs = DEFAULT_LEASE_MS } = {}, work) {
  const granted = await store.acquireLease(session, { leaseMs, claim: takeover ? 'takeover' : 'refuse' })
  // A long import renews its lease as it goes.
  const timer = setInterval(() => store.renewLease(session, granted.fence, leaseMs).catch(() => {}), leaseMs / 3)
  timer.unref()
  try {
    return await work(granted.fence)
  } finally {
    clearInterval(timer)
    await store.releaseLease(session, granted.fence).catch(() => {})
  }
}

module.exports = { SessionLease, withSessionLease, DEFAULT_LEASE_MS, hostName }
