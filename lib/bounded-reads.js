'use strict'
// Reading many values without holding an unbounded amount of them: a copy reads its source a
// batch at a time, and a batch is cut short once its values reach a byte budget, so that
// neither a few huge values nor many large ones (a hostile folder, say) can exhaust memory.

/**
 * Admits work by size: at most `limit` bytes at once, except that one piece of work is always
 * admitted when nothing else runs (however large it is). First come, first served.
 */
class ByteBudget {
  #limit
  #used = 0
  #running = 0
  /** `{ bytes, admit }` in arrival order. */
  #waiting = []

  constructor(limit) {
    this.#limit = limit
  }

  /** Resolves, once `bytes` fit, to a function that gives them back (call it once). */
  acquire(bytes) {
    return new Promise((resolve) => {
      const admit = () => {
        this.#used += bytes
        this.#running++
        let released = false
        resolve(() => {
          if (released) return
          released = true
          this.#used -= bytes
          this.#running--
          this.#admitWaiting()
        })
      }
      this.#waiting.push({ bytes, admit })
      this.#admitWaiting()
    })
  }

  #admitWaiting() {
    while (this.#waiting.length > 0 && (this.#running === 0 || this.#used + this.#waiting[0].bytes <= this.#limit)) {
      this.#waiting.shift().admit()
    }
  }
}

/**
 * Runs `work(item, admit)` over a prefix of `items`, in order and at most `concurrency` at a
 * time, and resolves to the results of that prefix (never empty when `items` is not). Before
 * `work` holds a value of `bytes` bytes it awaits `admit(bytes)`, which waits until they fit in
 * the `inFlight` ByteBudget and counts them toward the prefix; no item is started once
 * `maxBytes` are counted. `work` must not throw: it returns its failures.
 */
async function mapPrefix(items, { concurrency, maxBytes, inFlight }, work) {
  const results = []
  let next = 0
  let counted = 0
  const admit = (bytes) => {
    counted += bytes
    return inFlight.acquire(bytes)
  }
  const worker = async () => {
    while (next < items.length && counted < maxBytes) {
      const at = next++
      results[at] = await work(items[at], admit)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  return results
}

module.exports = { ByteBudget, mapPrefix }
