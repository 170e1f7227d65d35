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
 * Runs `work(item, admit)` over a prefix of `items`, at most `concurrency` at a time, and
 * resolves to the results of that prefix: the items whose values fit in `maxBytes` together
 * (at least the first). Before `work` holds a value of `bytes` bytes it awaits
 * `admit(bytes)`. Items are admitted in order: the first that does not fit ends the prefix,
 * and `admit` resolves to null for it and every later item (whose `work` should then stop:
 * its result is dropped). An admitted item gets a function that gives its bytes back to the
 * `inFlight` ByteBudget, once they fit there. `work` must not throw: it returns its failures.
 */
async function mapPrefix(items, { concurrency, maxBytes, inFlight }, work) {
  const results = []
  let next = 0
  let end = items.length
  let counted = 0
  // Settles once the item claimed last is counted, refused, or done without bytes.
  let previousDecided = Promise.resolve()
  const worker = async () => {
    while (next < end) {
      const at = next++
      const afterPrevious = previousDecided
      let decided
      previousDecided = new Promise((resolve) => (decided = resolve))
      const admit = async (bytes) => {
        await afterPrevious
        const fits = at < end && (counted === 0 || counted + bytes <= maxBytes)
        if (fits) counted += bytes
        else end = Math.min(end, at)
        decided()
        return fits ? inFlight.acquire(bytes) : null
      }
      const result = await work(items[at], admit)
      decided()
      results[at] = result
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  return results.slice(0, end)
}

module.exports = { ByteBudget, mapPrefix }
