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
  'min–max: the range of the runs on the first metric (the median is the first column). Ratios are taken within this run only; other load on the machine shifts all rows.',
  'fleet-N: N sessions on one store, N/2 pairs talking at once (real Signal crypto, each message its own event, every plaintext checked). ' +
    'CPU s / 1,000 msgs: process.cpuUsage of the whole process over the timed part (JS thread and the store\'s own threads).',
  '-wired workloads: the same with makeCacheableSignalKeyStore(keys) under addTransactionCapability, as Baileys\' example and most apps wire the keys.',
  'idle-100k: sessions opened (creds + one get each, 100 at a time) and held open, idle; RSS per session = (RSS after − RSS before) / N, both after a full GC, ' +
    'above Node + Baileys + the open store. The Map writes its sessions after the baseline (untimed), so its RSS includes the data itself.',
  'Engine floor rows (sessions-micro): raw rusqlite in Rust on the same machine in the same run (benches/floors, `raw/micro_session_1_9k`): one get and one set of the 1.9 KB record, no Node, no binding.',
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
  'fleet-100': (z) => fleetColumns(z.fleet100),
  'fleet-1000': (z) => fleetColumns(z.fleet1000),
  'idle-100k': (z) => [
    ['openMs', `open ${z.idleSessions.toLocaleString('en-US')} (ms)`, ms],
    ['sessionsPerSec', 'sessions/s', count],
    ['rssPerSessionBytes', 'RSS per idle session (B)', count],
    ['rssBaselineMB', 'RSS before (MB)', (v) => v.toFixed(0)],
  ],
  coldstart: (z) => [
    ['totalMs', `${z.coldstartSessions} sessions (ms)`, ms],
    ['sessionsPerSec', 'sessions/s', count],
    ['sinceProcessStartMs', 'since process start (ms)', ms],
  ],
}
const fleetColumns = ({ sessions, messages }) => [
  ['msgsPerSec', `${sessions} sessions, ${messages} msgs: msgs/s`, rate],
  ['msgP50Ms', 'msg p50 (ms)', ms],
  ['msgP99Ms', 'msg p99 (ms)', ms],
  ['cpuSecPer1k', 'CPU s / 1,000 msgs', (v) => v.toFixed(2)],
]
for (const w of ['chat', 'fanout', 'fleet-100', 'fleet-1000']) COLUMNS[`${w}-wired`] = COLUMNS[w]
COLUMNS.chat = ((chat) => (z) => [...chat(z), ['cpuSecPer1k', 'CPU s / 1,000 msgs', (v) => v.toFixed(2)]])(COLUMNS.chat)
for (const w of ['chat']) COLUMNS[`${w}-wired`] = COLUMNS[w]

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
      `medians of ${meta.runs} run${meta.runs === 1 ? '' : 's'} (${meta.extraRuns} for what no target uses: useMultiFileAuthState, better-sqlite3 NORMAL, the ownership rows, the -wired workloads), each in a fresh process · ` +
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
        if (m.failed) return [s.label, `failed: ${m.failed}`, ...cols.slice(1).map(() => ''), '', '', '', '']
        const rel = relative(medians, workload, primaryKey, primary.higher, s.id, 'bsqlite-full')
        const relMap = relative(medians, workload, primaryKey, primary.higher, s.id, 'memory-map')
        // How far apart the runs were on the primary metric: their min–max.
        const xs = (samples[workload]?.[s.id] ?? []).map((r) => r[primaryKey]).filter(Number.isFinite)
        const fmt = cols[0][2]
        const spread = xs.length > 1 ? `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}` : '–'
        const n = xs.length
        const runsNote = s.floor ? ' (one measurement)' : n < meta.runs ? ` (${n} run${n === 1 ? '' : 's'})` : ''
        return [
          s.id.startsWith('ours') ? `**${s.label}**${runsNote}` : `${s.label}${runsNote}`,
          ...cols.map(([key, , fmt]) => (Number.isFinite(m[key]) ? fmt(m[key]) : '–')),
          spread,
          Number.isFinite(rel) ? times(rel) : '–',
          Number.isFinite(relMap) ? times(relMap) : '–',
        ]
      })
    out.push('', `## ${workload}`, '')
    out.push(table(['store', ...cols.map(([, h]) => h), 'min–max', 'vs better-sqlite3 (FULL)', 'vs Map'], rows))
  }

  // Ours against every peer, per metric: how many times faster ours is (< 1×: slower).
  const peers = [
    ['bsqlite-full', 'better-sqlite3 FULL'],
    ['bsqlite-normal', 'better-sqlite3 NORMAL'],
    ['ioredis', 'ioredis'],
    ['pg', 'pg'],
    ['mysql2', 'mysql2'],
    ['multi-file', 'useMultiFileAuthState'],
    ['memory-map', 'Map'],
    ['floor-raw-full', 'raw rusqlite FULL (floor)'],
  ]
  const ratioRows = []
  for (const workload of workloads) {
    for (const [key, metric] of Object.entries(metricsOf(workload))) {
      for (const ours of ['ours-sqlite', 'ours-redis', 'ours-postgres', 'ours-mysql']) {
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
        const failed = medians[t.workload]?.[t.store]?.failed
        const measured =
          failed ? `**failed** (${failed.length > 90 ? failed.slice(0, 90) + '…' : failed})`
            : t.value === null ? 'not measured'
            : t.kind === 'overhead' ? `${(t.value * 100).toFixed(0)}% over`
            : t.kind === 'absolute' ? `${t.value >= 100 ? count(t.value) : t.value.toFixed(2)} ${t.unit ?? 'ms'}`
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

/** A target's ratio (or value) in each run: run i of ours against run i of its reference. */
function perRunValues(samples, medians, t) {
  const ours = (samples[t.workload]?.[t.store] ?? []).map((r) => r[t.metric])
  if (!t.vs) return ours.filter(Number.isFinite)
  const refRuns = (samples[t.workload]?.[t.vs] ?? []).map((r) => r[t.metric])
  // The floor is measured once per run of the suite: every run is set against that one value.
  const ref = refRuns.length ? refRuns : [medians[t.workload]?.[t.vs]?.[t.metric]]
  return ours.map((v, i) => v / ref[Math.min(i, ref.length - 1)]).filter(Number.isFinite)
}

/**
 * --busy: every target's value in this run beside the idle run's (results/latest.json): its
 * median and its spread across runs (min–max of the per-run ratios), and whether the busy value
 * stays within that spread (it did not fall below the idle ratio by more than the spread).
 */
export function renderBusy({ samples, medians }, targets, idle) {
  const out = ['# --busy: one core kept busy by another process', '']
  if (!idle) {
    out.push('No idle run (results/latest.json) to compare with: run `npm run bench` first.', '')
    return out.join('\n')
  }
  out.push(
    `Idle run: ${idle.meta.date} (${idle.meta.runs} runs${idle.meta.quick ? ', QUICK' : ''}). ` +
      'Within spread: a higher-is-better ratio at least the idle run\'s lowest, a time ratio or an absolute value at most its highest.',
    '',
  )
  const key = (t) => [t.workload, t.store, t.vs, t.metric, t.kind].join('|')
  const rows = targets.map((t) => {
    const it = idle.targets?.find((x) => key(x) === key(t))
    const same = Boolean(it)
    const runs = same ? perRunValues(idle.samples ?? {}, idle.medians ?? {}, t) : []
    const f = (v) => (v === null || !Number.isFinite(v) ? '–' : t.kind === 'absolute' ? (v >= 100 ? count(v) : v.toFixed(2)) : times(v))
    const lo = runs.length ? Math.min(...runs) : NaN
    const hi = runs.length ? Math.max(...runs) : NaN
    let within = '–'
    if (t.value !== null && runs.length) {
      const ok = t.kind === 'speedup' ? t.value >= lo : t.value <= hi
      within = ok ? 'yes' : '**no**'
    }
    if (t.value === null && !runs.length) return null // measured in neither run
    return [t.workload, t.store, t.vs ?? '–', t.metric, f(t.value), same ? f(it.value) : '–', runs.length > 1 ? `${f(lo)}–${f(hi)}` : runs.length ? f(lo) : '–', within]
  }).filter(Boolean)
  out.push(table(['workload', 'store', 'vs', 'metric', 'busy', 'idle (median)', 'idle runs (min–max)', 'within the idle spread'], rows), '')
  return out.join('\n')
}
