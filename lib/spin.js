'use strict'
// Keeps the event loop polling, instead of sleeping, for a moment while a store operation is in
// flight, when that pays.
//
// An operation's result comes back from the store's thread through libuv's async handle. If
// the JavaScript thread is asleep in epoll by then, waking it costs 10-200 µs on a virtual
// machine, more than most operations take (a SQLite read is ~5 µs). So while an operation is
// pending, and for at most SPIN_WINDOW_MS since the last one was issued or finished, a chain
// of setImmediate callbacks makes each loop iteration poll with a zero timeout: the result is
// picked up within a microsecond or two of its arrival. Nothing blocks: every iteration still
// runs timers and I/O.
//
// Spinning only pays when a core is free for it and the operation finishes within the window:
// - On a machine whose cores are all busy, the spin takes the CPU from the very thread it
//   waits for (measured: 2-3x slower calls). Every SAMPLE_OPS operations the process's
//   involuntary context switches are read (getrusage): more than CONTENDED_SWITCHES_PER_OP
//   per operation means threads are being preempted, and spinning stays off until the next
//   sample shows a quiet machine (~0.01 per operation here when idle, ~3 when a core is busy).
// - When operations take longer than the window (a Redis call across a network, a slow
//   disk), spinning is switched off for a growing number of them after a few misses in a
//   row, and tried again later. Reads and writes keep separate scores: a read may be quick
//   where a write waits for fsync.
// The store's own thread spins on its side before it sleeps (src/core/executor.rs).
//
// BAILEYS_AUTH_SPIN_US sets the window in microseconds; 0 turns spinning off.

const DEFAULT_SPIN_US = 250
const configured = Number(process.env.BAILEYS_AUTH_SPIN_US)
const SPIN_WINDOW_MS = (Number.isFinite(configured) && configured >= 0 ? configured : DEFAULT_SPIN_US) / 1000
/** Misses in a row that switch spinning off: one slow operation (a GC pause) is not a trend. */
const MISSES_TO_BACK_OFF = 3
/** Operations to skip spinning for, doubled each time it is switched off again, up to the max. */
const FIRST_BACKOFF = 8
const MAX_BACKOFF = 4096

/** Operations between two looks at the process's context switches. */
const SAMPLE_OPS = 128
const CONTENDED_SWITCHES_PER_OP = 0.25

let opsSinceSample = 0
let switchesAtSample = 0
let contended = false

/** Re-checks, every SAMPLE_OPS operations, whether the machine's cores are all busy. */
function sampleContention() {
  if (++opsSinceSample < SAMPLE_OPS) return
  const switches = process.resourceUsage().involuntaryContextSwitches
  contended = (switches - switchesAtSample) / opsSinceSample > CONTENDED_SWITCHES_PER_OP
  switchesAtSample = switches
  opsSinceSample = 0
}

/** When the current polling chain stops: once nothing is pending, or the window has passed. */
let inFlight = 0
let lastActivity = 0
let spinning = false

function poll() {
  if (inFlight === 0 || performance.now() - lastActivity > SPIN_WINDOW_MS) {
    spinning = false
    return
  }
  setImmediate(poll)
}

/** Whether spinning has been paying for one kind of operation. */
class Score {
  skip = 0
  misses = 0
  backoff = FIRST_BACKOFF

  /** Whether the next operation of this kind should spin. */
  wanted() {
    if (this.skip === 0) return true
    this.skip--
    return false
  }

  /** The result arrived while the loop was still polling for it. */
  hit() {
    this.misses = 0
    this.backoff = FIRST_BACKOFF
  }

  /** The window ran out first. After a few in a row, stop spinning for a while, longer each time. */
  miss() {
    if (++this.misses < MISSES_TO_BACK_OFF) return
    this.misses = 0
    this.skip = this.backoff
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF)
  }
}

const scores = { read: new Score(), write: new Score() }

/**
 * Returns `promise`, an operation of a store (`kind`: 'read' or 'write'), keeping the loop
 * polling while it is pending if spinning pays for that kind of operation.
 */
function track(promise, kind) {
  if (SPIN_WINDOW_MS === 0) return promise
  sampleContention()
  const score = scores[kind]
  if (contended || !score.wanted()) return promise
  inFlight++
  const issued = performance.now()
  lastActivity = issued
  if (!spinning) {
    spinning = true
    setImmediate(poll)
  }
  const settled = () => {
    inFlight--
    const now = performance.now()
    // Measured, not inferred from the polling chain: on a busy machine the polling thread
    // itself may have been preempted past the window, which is exactly when spinning hurts.
    if (now - issued <= SPIN_WINDOW_MS) score.hit()
    else score.miss()
    lastActivity = now
  }
  promise.then(settled, settled)
  return promise
}

module.exports = { track }
