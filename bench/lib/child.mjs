// One measurement in a fresh process: `node child.mjs '<job JSON>'`. A fresh process per store
// and workload (and run) keeps each store's peak RSS its own, and keeps one store's garbage,
// JIT state or native threads from slowing the next. Prints one line `@@result <JSON>`.
//
// Jobs: { kind: 'fixtures' | 'populate' | 'run', workload, store, dir, redisUrl, keyPrefix,
//         sizes, fixturesPath }
import { monitorEventLoopDelay } from 'node:perf_hooks'

import { baileys } from './baileys.mjs'
import * as devices from '../../examples/lib/simulated-devices.mjs'
import { makeFixtures, readFixtures } from './fixtures.mjs'
import { openBackend, storeById } from '../peers/index.mjs'

// 1 ms is the finest resolution monitorEventLoopDelay has. Each recorded sample is the full
// interval between its timer's callbacks, so the delay is the sample minus the resolution.
const ELD_RESOLUTION_MS = 1

/** Times `fn` and records the event loop's delay while it runs. */
async function measure(fn) {
  const histogram = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS })
  histogram.enable()
  // The histogram records the gap between two of its timer's callbacks: let the first one
  // fire before the work starts, or a first blocked stretch would go unrecorded.
  await new Promise((resolve) => setTimeout(resolve, 2 * ELD_RESOLUTION_MS))
  const t0 = performance.now()
  const result = await fn()
  const ms = performance.now() - t0
  // Let the histogram's timer fire once more: if fn never yielded, this records the whole
  // stretch it blocked the loop for (otherwise the histogram would be empty and read 0).
  await new Promise((resolve) => setTimeout(resolve, 2 * ELD_RESOLUTION_MS))
  histogram.disable()
  const delay = (ns) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS)
  return { ms, result, eld: { p99Ms: delay(histogram.percentile(99)), maxMs: delay(histogram.max) } }
}

const job = JSON.parse(process.argv[2])

async function main() {
  if (job.kind === 'fixtures') {
    await makeFixtures(job.sizes, job.fixturesPath)
    return {}
  }
  const store = storeById(job.store)
  // `<workload>-wired` is <workload> with the keys wired as most apps wire them (see ctx.open).
  const wired = job.workload.endsWith('-wired')
  const workload = await import(new URL(`../workloads/${job.workload.replace(/-wired$/, '')}.mjs`, import.meta.url))
  const opened = []
  // Populating coldstart's 1,000 sessions would mint 1,000 throw-away identities through
  // initAuthCreds (~10 ms each): the creds are overwritten anyway, so skip that there, and in
  // idle-100k, where the Map row makes its 100,000 sessions in the child (and a persistent
  // store that lost one would hand out `{}`, which the workload's check rejects).
  const cheapCreds = job.kind === 'populate' || job.workload === 'idle-100k'
  const config = {
    dir: job.dir,
    redisUrl: job.redisUrl,
    keyPrefix: job.keyPrefix,
    baileys: cheapCreds ? { ...baileys, initAuthCreds: () => ({}) } : baileys,
  }
  const ctx = {
    baileys,
    devices,
    sizes: job.sizes,
    // Read on first use: only fanout and coldstart need them (~1 MB of JSON at full size).
    get fixtures() {
      const value = readFixtures(job.fixturesPath)
      Object.defineProperty(this, 'fixtures', { value })
      return value
    },
    measure,
    persistent: store.persistent,
    async open() {
      const backend = await openBackend(store, config)
      opened.push(backend)
      if (!wired) return backend
      // As Baileys' example and most apps do: makeCacheableSignalKeyStore (a NodeCache in front
      // of the store); makeDevice then puts addTransactionCapability around that.
      return {
        ...backend,
        async use(sessionId) {
          const auth = await backend.use(sessionId)
          auth.state.keys = baileys.makeCacheableSignalKeyStore(auth.state.keys)
          return auth
        },
      }
    },
  }
  const metrics = job.kind === 'populate' ? await workload.populate(ctx) : await workload.run(ctx)
  for (const backend of opened) await backend.close()
  const usage = process.resourceUsage()
  // cpuSec (the whole child, setup included) lets the runner tell machine load from slowness.
  return { ...metrics, maxRssMB: usage.maxRSS / 1024, cpuSec: (usage.userCPUTime + usage.systemCPUTime) / 1e6 }
}

main().then(
  (result) => {
    process.stdout.write(`@@result ${JSON.stringify(result ?? {})}\n`)
  },
  (err) => {
    console.error(err)
    process.exitCode = 1
  },
)
