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
// - no renewal succeeded for 5/6 of leaseMs (the store is unreachable, the disk stuck):
//   reported before the lease can have expired in the store, so that the app stops before a
//   new owner may start. An event loop that was blocked for that long (Baileys' own work
//   stalls it for seconds with a thousand sessions in one process) could not send the
//   renewals that fell due meanwhile: the first one sent once it runs again decides instead,
//   since only the store knows whether another owner took the session in between.

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

/**
 * One renewal per (store, leaseMs) for every lease this process holds there, instead of a timer
 * and a store write per lease: 100,000 sessions at 30 s were 10,000 renewals a second. Each
 * lease keeps its own outcome (renewed, or fenced and so lost) and its own watchdog.
 */
class Renewer {
  static #all = new WeakMap()
  /** Leases per store call: a renewal of 5,000 on SQLite is one transaction of a few ms. */
  static SLICE = 5000
  #store
  #leaseMs
  #leases = new Set()
  #timer
  #running = false
  /** performance.now() when the renewal call awaiting its answer was sent (null: none is). */
  pendingSince = null

  static of(store, leaseMs) {
    let byMs = Renewer.#all.get(store)
    if (!byMs) Renewer.#all.set(store, (byMs = new Map()))
    let renewer = byMs.get(leaseMs)
    if (!renewer) byMs.set(leaseMs, (renewer = new Renewer(store, leaseMs)))
    return renewer
  }

  constructor(store, leaseMs) {
    this.#store = store
    this.#leaseMs = leaseMs
  }

  add(lease) {
    this.#leases.add(lease)
    if (!this.#timer && !this.#running) this.#arm(this.#leaseMs / 3)
  }

  remove(lease) {
    this.#leases.delete(lease)
    if (this.#leases.size === 0) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
  }

  #arm(delay) {
    this.#timer = setTimeout(() => this.#renewAll(), delay)
    this.#timer.unref()
  }

  async #renewAll() {
    this.#timer = undefined
    const leases = [...this.#leases]
    if (leases.length === 0) return
    this.#running = true
    let next = this.#leaseMs / 3
    try {
      // In slices, so that other calls on the store's worker thread wait behind one slice only.
      for (let i = 0; i < leases.length; i += Renewer.SLICE) {
        const slice = leases.slice(i, i + Renewer.SLICE)
        const issuedAt = performance.now()
        this.pendingSince = issuedAt
        try {
          const outcomes = await this.#store.renewLeases(
            slice.map((l) => l.session),
            slice.map((l) => l.renewalFence),
            this.#leaseMs,
          )
          outcomes.forEach((outcome, j) => slice[j].renewed(outcome, issuedAt))
        } catch (err) {
          if (err?.code !== ErrorCodes.STORE_CLOSED) throw err
          for (const lease of slice) lease.renewed({ error: err }, issuedAt)
        } finally {
          this.pendingSince = null
        }
      }
    } catch {
      // Unreachable for now: try again soon; each watchdog reports the loss if it lasts.
      next = Math.min(this.#leaseMs / 6, 2000)
    } finally {
      this.#running = false
    }
    if (this.#leases.size > 0 && !this.#timer) this.#arm(next)
  }
}

/**
 * Acquisitions on one store go to it together: one is sent at once when none is in flight; those
 * issued meanwhile (Promise.all over many useRustAuthState calls) wait for it and go next, all
 * together: one transaction for hundreds of sessions instead of one each, and no added wait for
 * a lone acquisition. The store has one worker thread, so waiting behind the batch in flight
 * costs nothing. Each still gets its own result.
 */
class Acquirer {
  static #all = new WeakMap()
  static MAX_BATCH = 1000
  #store
  #queue = []
  #inFlight = false

  static of(store) {
    let acquirer = Acquirer.#all.get(store)
    if (!acquirer) Acquirer.#all.set(store, (acquirer = new Acquirer(store)))
    return acquirer
  }

  constructor(store) {
    this.#store = store
  }

  acquire(session, leaseMs, claim) {
    return new Promise((resolve, reject) => {
      this.#queue.push({ session, leaseMs, claim, resolve, reject })
      if (!this.#inFlight) this.#sendNext()
    })
  }

  /** Sends the queued requests of the first one's leaseMs (up to MAX_BATCH), then the rest. */
  async #sendNext() {
    if (this.#queue.length === 0) return
    this.#inFlight = true
    const { leaseMs } = this.#queue[0]
    const batch = []
    const rest = []
    for (const request of this.#queue) {
      if (request.leaseMs === leaseMs && batch.length < Acquirer.MAX_BATCH) batch.push(request)
      else rest.push(request)
    }
    this.#queue = rest
    try {
      const outcomes = await this.#store.acquireLeases(
        batch.map((r) => r.session),
        batch.map((r) => r.claim),
        leaseMs,
      )
      outcomes.forEach(({ lease, error }, i) => (error ? batch[i].reject(error) : batch[i].resolve(lease)))
    } catch (err) {
      for (const request of batch) request.reject(err)
    } finally {
      this.#inFlight = false
      this.#sendNext()
    }
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
  #watchdog
  /** performance.now() the watchdog is due at: how late it fires tells a starved event loop */
  #watchdogDue
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
    const granted = await Acquirer.of(store).acquire(session, leaseMs, takeover ? 'takeover' : 'process')
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
    Renewer.of(this.#store, this.#leaseMs).remove(this)
    clearTimeout(this.#watchdog)
    this.#watchdog = undefined
  }

  /** For the Renewer: the session, and the fence to renew. */
  get session() {
    return this.#session
  }

  get renewalFence() {
    return this.#fence
  }

  /** Joins its store's renewals, and arms the watchdog (5/6 of the lease from the last grant). */
  #schedule() {
    if (this.#released || this.#lostError) return
    Renewer.of(this.#store, this.#leaseMs).add(this)
    clearTimeout(this.#watchdog)
    this.#arm(this.#grantedAt + (this.#leaseMs * 5) / 6)
  }

  /** Arms the watchdog for performance.now() = `due`. */
  #arm(due) {
    clearTimeout(this.#watchdog)
    this.#watchdogDue = due
    this.#watchdog = setTimeout(() => this.#expired(), Math.max(0, due - performance.now()))
    this.#watchdog.unref()
  }

  /** For the Renewer: this lease's outcome of a renewal issued at `issuedAt`. */
  renewed({ lease, error }, issuedAt) {
    if (this.#released || this.#lostError) return
    if (error?.code === ErrorCodes.SESSION_FENCED) return this.lose(error)
    if (error?.code === ErrorCodes.STORE_CLOSED) return this.lose(`its store was closed`)
    if (error) return // the watchdog reports the loss if it lasts
    this.#grantedAt = issuedAt
    this.#expiresAt = lease.expiresAt
    this.#schedule()
  }

  #expired() {
    if (this.#released || this.#lostError) return
    const now = performance.now()
    if (now - this.#grantedAt < (this.#leaseMs * 5) / 6) return this.#schedule()
    // While a renewal awaits its answer, the answer decides (renewed: nobody took the session
    // while it lapsed; refused: lost) if the event loop is why it is late: it was sent only just
    // now (the loop was blocked when the earlier ones fell due), or this very timer fired late
    // (the loop is starved, and so is the answer's callback). A renewal that has been waiting
    // on a responsive loop for a sixth of the lease gets no more: the store is stuck.
    const pendingSince = Renewer.of(this.#store, this.#leaseMs).pendingSince
    const grace = this.#leaseMs / 6
    const starved = now - this.#watchdogDue > grace
    if (pendingSince !== null && (now - pendingSince < grace || starved)) return this.#arm(now + grace)
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
