// The targets, each a ratio taken within one run of the suite. SQLite rows are judged
// against the better-sqlite3 peer (synchronous=FULL, the same durability), Redis rows against
// the ioredis peer, except where a target names another reference (the Map, the engine floor).
//   kind 'speedup':  ours/peer of a higher-is-better metric, must be >= want
//   kind 'time':     ours/peer of a time, must be <= want
//   kind 'overhead': (ours - reference)/reference of a time, must be <= want
//   kind 'absolute': ours' own value, must be < want
export const TARGETS = [
  // Encryption at rest costs under 10% on the workloads that move values (issue 15).
  ...[['chat', 'msgsPerSec'], ['fanout', 'roundsPerSec']].flatMap(([workload, metric]) =>
    ['sqlite', 'redis', 'postgres', 'mysql'].map((backend) => ({
      workload, metric, store: `ours-${backend}-encrypted`, vs: `ours-${backend}`, kind: 'speedup', want: 0.91,
    })),
  ),
  ...['fleet-100', 'fleet-1000'].flatMap((workload) => [
    { workload, metric: 'msgsPerSec', store: 'ours-sqlite', vs: 'memory-map', kind: 'speedup', want: 0.9 },
    { workload, metric: 'msgsPerSec', store: 'ours-redis', vs: 'memory-map', kind: 'speedup', want: 0.9 },
  ]),
  { workload: 'chat', metric: 'msgsPerSec', store: 'ours-sqlite', vs: 'memory-map', kind: 'speedup', want: 0.8 },
  { workload: 'chat', metric: 'msgsPerSec', store: 'ours-redis', vs: 'memory-map', kind: 'speedup', want: 0.7 },
  { workload: 'fanout', metric: 'roundsPerSec', store: 'ours-sqlite', vs: 'memory-map', kind: 'speedup', want: 0.9 },
  { workload: 'fanout', metric: 'roundsPerSec', store: 'ours-redis', vs: 'ioredis', kind: 'speedup', want: 1.5 },
  { workload: 'sessions-micro', metric: 'opsPerSec', store: 'ours-sqlite', vs: 'bsqlite-full', kind: 'speedup', want: 1.3 },
  // The engine floor of the same run (lib/floors.mjs): how close to the disk the whole stack is.
  { workload: 'sessions-micro', metric: 'opsPerSec', store: 'ours-sqlite', vs: 'floor-raw-full', kind: 'speedup', want: 0.8 },
  { workload: 'sessions-micro', metric: 'opsPerSec', store: 'ours-redis', vs: 'ioredis', kind: 'speedup', want: 1.5 },
  { workload: 'appstate', metric: 'opsPerSec', store: 'ours-sqlite', vs: 'bsqlite-full', kind: 'speedup', want: 10 },
  { workload: 'appstate', metric: 'opsPerSec', store: 'ours-redis', vs: 'ioredis', kind: 'speedup', want: 10 },
  { workload: 'prekeys', metric: 'setMs', store: 'ours-sqlite', vs: 'bsqlite-full', kind: 'time', want: 0.5 },
  { workload: 'prekeys', metric: 'setMs', store: 'ours-redis', vs: 'ioredis', kind: 'time', want: 0.5 },
  { workload: 'idle-100k', metric: 'openMs', store: 'ours-sqlite', kind: 'absolute', want: 5000, unit: 'ms' },
  { workload: 'idle-100k', metric: 'openMs', store: 'ours-redis', kind: 'absolute', want: 10000, unit: 'ms' },
  { workload: 'idle-100k', metric: 'rssPerSessionBytes', store: 'ours-sqlite', kind: 'absolute', want: 2048, unit: 'B' },
  // CPU seconds per 1,000 messages (process.cpuUsage over the timed part) against the Map's.
  ...['chat', 'fleet-100', 'fleet-1000'].flatMap((workload) => [
    { workload, metric: 'cpuSecPer1k', store: 'ours-sqlite', vs: 'memory-map', kind: 'time', want: 1.2, noun: 'CPU per 1,000 msgs' },
    { workload, metric: 'cpuSecPer1k', store: 'ours-redis', vs: 'memory-map', kind: 'time', want: 1.3, noun: 'CPU per 1,000 msgs' },
  ]),
  { workload: 'chat', metric: 'eldP99Ms', store: 'ours-sqlite', kind: 'absolute', want: 2, unit: 'ms' },
  { workload: 'chat', metric: 'eldP99Ms', store: 'ours-redis', kind: 'absolute', want: 2, unit: 'ms' },
]

/**
 * Evaluates every target against `medians[workload][store][metric]`. Returns rows with
 * `value` (in the target's own terms), `met`, and `factor`: how many times better than
 * required (met) or how many times better ours must get (missed); null when not measured.
 */
export function evaluateTargets(medians) {
  return TARGETS.map((t) => {
    const ours = medians[t.workload]?.[t.store]?.[t.metric]
    const ref = t.vs ? medians[t.workload]?.[t.vs]?.[t.metric] : undefined
    let value, slack // slack > 1 means met with room to spare
    if (t.kind === 'speedup') {
      value = ours / ref
      slack = value / t.want
    } else if (t.kind === 'time') {
      value = ours / ref
      slack = t.want / value
    } else if (t.kind === 'overhead') {
      value = (ours - ref) / ref
      slack = (1 + t.want) / (ours / ref) // judged on the time ratio: ours may take 1.2x the Map
    } else {
      value = ours
      slack = t.want / value
    }
    if (!Number.isFinite(value)) return { ...t, value: null, met: null, factor: null }
    const met = t.kind === 'absolute' ? value < t.want : slack >= 1
    return { ...t, value, met, factor: met ? slack : 1 / slack }
  })
}

/** The target in words, e.g. "≥ 4× better-sqlite3 (WAL, FULL)". */
export function describeTarget(t, labelOf) {
  const vs = t.vs ? labelOf(t.vs) : ''
  switch (t.kind) {
    case 'speedup': return `≥ ${t.want}× ${vs}`
    case 'time': return `≤ ${t.want}× ${vs}'s time`
    case 'overhead': return `≤ ${Math.round(t.want * 100)}% over ${vs}'s time`
    default: return `< ${t.want.toLocaleString('en-US')} ${t.unit ?? 'ms'}`
  }
}
