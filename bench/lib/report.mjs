// Turns the medians of a run into markdown: one table per workload, the ratios of ours against
// every peer, and the targets. The same text is printed and written to results/latest.md.
import { describeTarget, evaluateTargets } from './targets.mjs'

// How to read every run's numbers.
const NOTES = [
  'SQLite rows write a fresh file per run in the system temp dir. Ours: WAL, synchronous=FULL (as shipped). ' +
    'better-sqlite3 FULL has the same durability and is the reference for the SQLite targets; NORMAL may lose the last commits on power loss.',
  "useMultiFileAuthState is Baileys' own, unchanged (no fsync, not atomic across files). The Map keeps the objects it is given (no copy, no persistence): the ceiling.",
  "chat and fanout run real Signal crypto through Baileys' repository with addTransactionCapability; prekeys, sessions-micro and appstate time raw store calls.",
  'Event-loop delay: monitorEventLoopDelay at 1 ms resolution during the timed part, minus the resolution. chat, fanout and appstate yield to the loop between ' +
    'iterations (each message is its own event in an app); prekeys and sessions-micro are tight loops, so a synchronous store shows its whole loop there. ' +
    "The Map row shows what Baileys itself blocks: its Signal crypto runs synchronously (a whole chat message, a whole fanout round's encryptions).",
  'Peak RSS: process.resourceUsage().maxRSS of the child that ran the workload (it includes Node and Baileys, ~100 MB).',
  'run spread: ± half the range of the runs around their median, on the first metric. Ratios are taken within this run only; other load on the machine shifts all rows.',
]

// Columns per workload besides the common tail (event-loop delay, peak RSS).
const COLUMNS = {
  prekeys: (z) => [
    ['setMs', `set of ${z.preKeys} (ms)`, ms],
    ['getOpsPerSec', `${z.preKeyGets} gets: ops/s`, count],
    ['getP50Ms', 'get p50 (ms)', ms],
    ['getP99Ms', 'get p99 (ms)', ms],
  ],
  'sessions-micro': (z) => [
    ['opsPerSec', `${z.microOps} ops: ops/s`, count],
    ['getP50Ms', 'get p50 (ms)', ms],
    ['getP99Ms', 'get p99 (ms)', ms],
    ['setP50Ms', 'set p50 (ms)', ms],
    ['setP99Ms', 'set p99 (ms)', ms],
  ],
  fanout: (z) => [
    ['roundsPerSec', `${z.fanoutRounds} rounds × ${z.fanoutDevices} devices: rounds/s`, rate],
    ['roundP50Ms', 'round p50 (ms)', ms],
    ['roundP99Ms', 'round p99 (ms)', ms],
  ],
  chat: (z) => [
    ['msgsPerSec', `${z.chatMessages} msgs: msgs/s`, rate],
    ['msgP50Ms', 'msg p50 (ms)', ms],
    ['msgP99Ms', 'msg p99 (ms)', ms],
    ['finalRecordBytes', 'session at end (KB)', (v) => (v / 1024).toFixed(0)],
  ],
  appstate: (z) => [
    ['opsPerSec', `${z.appstateIterations} × set+get (${z.appstateEntries} entries): ops/s`, rate],
    ['setP50Ms', 'set p50 (ms)', ms],
    ['setP99Ms', 'set p99 (ms)', ms],
    ['getP50Ms', 'get p50 (ms)', ms],
    ['getP99Ms', 'get p99 (ms)', ms],
  ],
  coldstart: (z) => [
    ['totalMs', `${z.coldstartSessions} sessions (ms)`, ms],
    ['sessionsPerSec', 'sessions/s', count],
    ['sinceProcessStartMs', 'since process start (ms)', ms],
  ],
}
const TAIL = [
  ['eldP99Ms', 'event-loop delay p99 (ms)', ms],
  ['maxRssMB', 'peak RSS (MB)', (v) => v.toFixed(0)],
]

function ms(v) {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3)
}
function count(v) {
  return Math.round(v).toLocaleString('en-US')
}
function rate(v) {
  return v >= 100 ? count(v) : v.toFixed(1)
}
const times = (r) => (r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)) + '×'

const table = (header, rows) =>
  [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')

/** Throughput of `store` relative to `ref` on a metric (>1: store is faster), or NaN. */
export function relative(medians, workload, metric, higher, store, ref) {
  const a = medians[workload]?.[store]?.[metric]
  const b = medians[workload]?.[ref]?.[metric]
  return higher ? a / b : b / a
}

/**
 * medians: { [workload]: { [storeId]: { metric: median } } }
 * meta: sizes, runs, notes; stores: rows in display order; metricsOf: workload -> metrics.
 */
export function renderMarkdown({ medians, samples, meta, stores, workloads, metricsOf }) {
  const labelOf = (id) => stores.find((s) => s.id === id)?.label ?? id
  const z = meta.sizes
  const out = []
  out.push(`# baileys-rust-auth benchmarks`)
  out.push('')
  out.push(
    `${meta.date} · ${meta.machine} · Node ${meta.node} · Baileys ${meta.versions.baileys} · ` +
      `${meta.quick ? '**QUICK mode (smaller sizes, indicative only)**' : 'full sizes'} · ` +
      `medians of ${meta.runs} run${meta.runs === 1 ? '' : 's'} (${meta.extraRuns} for the rows no target uses: useMultiFileAuthState, better-sqlite3 NORMAL), each in a fresh process · ` +
      `whole run ${Math.round(meta.durationSec)} s · load average ${meta.loadAverage.start[0]} at start, ${meta.loadAverage.end[0]} at end · ` +
      `ours at ${meta.versions.ours}`,
  )
  out.push('')
  for (const note of [...NOTES, ...meta.notes]) out.push(`- ${note}`)

  for (const workload of workloads) {
    const perStore = medians[workload]
    if (!perStore) continue
    const [primaryKey, primary] = Object.entries(metricsOf(workload))[0]
    const cols = [...COLUMNS[workload](z), ...TAIL]
    const rows = stores
      .filter((s) => perStore[s.id])
      .map((s) => {
        const m = perStore[s.id]
        if (m.failed) return [s.label, `failed: ${m.failed}`, ...cols.slice(1).map(() => ''), '', '']
        const rel = relative(medians, workload, primaryKey, primary.higher, s.id, 'bsqlite-full')
        // How far apart the runs were on the primary metric: ± half their range, over the median.
        const xs = samples[workload][s.id].map((r) => r[primaryKey])
        const spread = xs.length > 1 ? `±${(((Math.max(...xs) - Math.min(...xs)) / 2 / m[primaryKey]) * 100).toFixed(0)}%` : '–'
        const n = samples[workload][s.id].length
        const runsNote = n < meta.runs ? ` (${n} run${n === 1 ? '' : 's'})` : ''
        return [
          s.id.startsWith('ours') ? `**${s.label}**${runsNote}` : `${s.label}${runsNote}`,
          ...cols.map(([key, , fmt]) => (Number.isFinite(m[key]) ? fmt(m[key]) : '–')),
          spread,
          Number.isFinite(rel) ? times(rel) : '–',
        ]
      })
    out.push('', `## ${workload}`, '')
    out.push(table(['store', ...cols.map(([, h]) => h), 'run spread', 'vs better-sqlite3 (FULL)'], rows))
  }

  // Ours against every peer, per metric: how many times faster ours is (< 1×: slower).
  const peers = [
    ['bsqlite-full', 'better-sqlite3 FULL'],
    ['bsqlite-normal', 'better-sqlite3 NORMAL'],
    ['ioredis', 'ioredis'],
    ['multi-file', 'useMultiFileAuthState'],
    ['memory-map', 'Map'],
  ]
  const ratioRows = []
  for (const workload of workloads) {
    for (const [key, metric] of Object.entries(metricsOf(workload))) {
      for (const ours of ['ours-sqlite', 'ours-redis']) {
        if (!medians[workload]?.[ours]) continue
        ratioRows.push([
          metric.label,
          labelOf(ours),
          ...peers.map(([id]) => {
            const r = relative(medians, workload, key, metric.higher, ours, id)
            return Number.isFinite(r) ? times(r) : '–'
          }),
        ])
      }
    }
  }
  out.push('', '## Ours against each peer (same run; >1× means ours is faster)', '')
  out.push(table(['workload', 'ours', ...peers.map(([, h]) => `vs ${h}`)], ratioRows))

  const targets = evaluateTargets(medians)
  out.push('', `## Targets${meta.quick ? ' (QUICK mode: not the sizes the targets are set for)' : ''}`, '')
  out.push(
    table(
      ['workload', 'store', 'target', 'measured', 'status'],
      targets.map((t) => {
        const measured =
          t.value === null ? 'not measured'
            : t.kind === 'overhead' ? `${(t.value * 100).toFixed(0)}% over`
            : t.kind === 'absolute' ? `${t.value.toFixed(2)} ms`
            : t.kind === 'time' ? `${t.value.toFixed(2)}× the time`
            : times(t.value)
        const status =
          t.met === null ? '–'
            : t.met ? `met (${t.factor.toFixed(2)}× to spare)`
            : `**missed** (needs ${t.factor.toFixed(2)}× better)`
        return [t.workload, labelOf(t.store), describeTarget(t, labelOf), measured, status]
      }),
    ),
  )
  return { markdown: out.join('\n') + '\n', targets }
}
