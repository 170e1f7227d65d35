// Small statistics helpers shared by the child (per-operation latencies) and the runner
// (medians across runs). Latencies are kept raw in a growing Float64Array: the largest
// workload records 10,000 operations, so exact percentiles cost nothing worth estimating.

/** Records durations in milliseconds; `time(fn)` awaits fn and records how long it took. */
export class Latencies {
  #values = new Float64Array(1024)
  #n = 0

  record(ms) {
    if (this.#n === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2)
      grown.set(this.#values)
      this.#values = grown
    }
    this.#values[this.#n++] = ms
  }

  async time(fn) {
    const t0 = performance.now()
    const result = await fn()
    this.record(performance.now() - t0)
    return result
  }

  get count() {
    return this.#n
  }

  /** { n, p50, p99, max } in ms (nearest-rank percentiles). */
  summary() {
    const sorted = this.#values.slice(0, this.#n).sort()
    return { n: this.#n, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[this.#n - 1] ?? NaN }
  }
}

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]
}

/** Median of the finite numbers in `values` (NaN when there are none). */
export function median(values) {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b)
  if (xs.length === 0) return NaN
  const mid = xs.length >> 1
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2
}

/** A deterministic PRNG (mulberry32), so every store sees the same access order. */
export function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Resolves on a later turn of the event loop. Workloads call it between iterations that an app
 * would run as separate events (each message or patch arrives from the socket), so a store
 * that never blocks lets the event loop run there; without it a fully synchronous store would
 * run a whole workload in one turn.
 */
export const nextTurn = () => new Promise((resolve) => setImmediate(resolve))
