// Waiting for something to become true without a fixed sleep: poll with a deadline.

/** Polls `check` (every 50 ms) until it returns a truthy value, which it resolves to; fails after `ms`. */
export async function until(check, what, ms = 60000) {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
