// The benchmark runner: `npm run bench` from the repo root (which builds the addon and installs
// bench/'s own dependencies first), or `node bench/run.mjs`.
//
//   BENCH_RUNS=5        runs per store and workload; medians are reported (default 5, QUICK 1)
//   BENCH_EXTRA_RUNS=1  runs of the `extra` rows (useMultiFileAuthState, better-sqlite3 NORMAL,
//                       the ownership rows) and of the -wired workloads, which no target depends
//                       on (default 1; at most BENCH_RUNS)
//   BENCH_QUICK=1       smoke mode: smaller sizes (lib/sizes.mjs), about two minutes
//   BENCH_WORKLOADS=a,b only these workloads (ALL_WORKLOADS below; `floors` is the Rust engine floor)
//   BENCH_STORES=a,b    only these stores (ids in peers/index.mjs)
//   --busy              the same run with one core kept busy by a spinning child process; writes
//                       results/busy.{json,md}, which set every target ratio beside the idle
//                       run's (results/latest.json) and its spread
//
// Every measurement runs in a fresh child process (lib/child.mjs): one store, one workload, one
// run. Runs are interleaved (run 1 of everything, then run 2, ...) and the store order rotates
// from run to run, so that a slow minute of the machine does not land on one store only.
// Writes results/latest.json, results/latest.md and results/chart.svg (`--render` redraws the
// last two from the first, e.g. after changing the report's layout).
import { execFile, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { redisAvailable, redisCommand, startRedis } from '../__test__/helpers/redis-server.mjs'
import { dropBenchData, dropNamespace, namespaceOf, sqlServerUp } from './lib/sql.mjs'
import { renderChart } from './lib/chart.mjs'
import { FLOOR_ROWS, floorMedians, runFloors } from './lib/floors.mjs'
import { renderBusy, renderMarkdown } from './lib/report.mjs'
import { FULL, QUICK } from './lib/sizes.mjs'
import { median } from './lib/stats.mjs'
import { STORES } from './peers/index.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const started = performance.now()
const loadAtStart = loadavg().map((l) => +l.toFixed(2))
const git = (...args) => spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout?.trim() ?? ''
// The code under test may be changing while a run takes its minutes: say so when it did.
const oursAtStart = git('describe', '--always', '--dirty') || 'no git'

const ALL_WORKLOADS = [
  'prekeys', 'sessions-micro', 'fanout', 'chat', 'appstate', 'coldstart',
  'fleet-100', 'fleet-1000', 'idle-100k',
  // The same with makeCacheableSignalKeyStore around the keys (lib/child.mjs).
  'chat-wired', 'fanout-wired', 'fleet-100-wired', 'fleet-1000-wired',
]
// No target uses the -wired workloads: like the extra rows, they run BENCH_EXTRA_RUNS times
// (a full run at 5 runs would otherwise take well over 50 minutes on 2 cores).
const EXTRA_WORKLOADS = new Set(['chat-wired', 'fanout-wired', 'fleet-100-wired', 'fleet-1000-wired'])
// Workloads whose store is written once per run of the suite, before the first measurement.
const POPULATED = { coldstart: { db: 1 }, 'idle-100k': { db: 2 } }
const busy = process.argv.includes('--busy')
const quick = process.env.BENCH_QUICK === '1'
const runs = process.env.BENCH_RUNS ? Number(process.env.BENCH_RUNS) : quick ? 1 : 5
if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_RUNS must be a positive integer, not ${process.env.BENCH_RUNS}`)
const extraRuns = Math.min(runs, process.env.BENCH_EXTRA_RUNS ? Number(process.env.BENCH_EXTRA_RUNS) : 1)
if (!Number.isInteger(extraRuns) || extraRuns < 1) throw new Error(`BENCH_EXTRA_RUNS must be a positive integer`)
const sizes = quick ? QUICK : FULL
const pick = (env, all, idOf) => {
  if (!process.env[env]) return all
  const wanted = process.env[env].split(',').map((s) => s.trim()).filter(Boolean)
  for (const w of wanted) if (!all.some((x) => idOf(x) === w)) throw new Error(`${env}: unknown ${w}`)
  return all.filter((x) => wanted.includes(idOf(x)))
}
const workloads = pick('BENCH_WORKLOADS', [...ALL_WORKLOADS, 'floors'], (w) => w).filter((w) => w !== 'floors')
const wantFloors = !process.env.BENCH_WORKLOADS || process.env.BENCH_WORKLOADS.split(',').map((w) => w.trim()).includes('floors')
let stores = pick('BENCH_STORES', STORES, (s) => s.id)

// `node bench/run.mjs --render` only re-renders latest.md and chart.svg from latest.json.
if (process.argv.includes('--render')) {
  await writeReport(JSON.parse(readFileSync(join(here, 'results', `${process.env.BENCH_RESULTS ?? (busy ? 'busy' : 'latest')}.json`), 'utf8')))
  process.exit(0)
}

// ---------------------------------------------------------------------------------------------
// Preconditions: the addon is built, bench/'s dependencies are installed.

const requireHere = createRequire(import.meta.url)
try {
  requireHere('../binding.js')
} catch (e) {
  console.error(`The addon is not built (${e.message.split('\n')[0]}): run \`npm run build\` first, or use \`npm run bench\`.`)
  process.exit(2)
}
for (const dep of ['better-sqlite3', 'ioredis', 'pg', 'mysql2']) {
  try {
    requireHere.resolve(dep)
  } catch {
    console.error(`${dep} is not installed: run \`npm install --prefix bench\` (or use \`npm run bench\`).`)
    process.exit(2)
  }
}

// What only this run knows (the report adds the notes that hold for every run).
const notes = []

let redis = null
if (stores.some((s) => s.redis)) {
  if (redisAvailable()) {
    redis = await startRedis() // private, on a free loopback port; killed when this process exits
    const version = /v=(\S+)/.exec(spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout)?.[1]
    notes.push(
      `Redis rows share one private redis-server ${version} on 127.0.0.1 (TCP), started with appendonly no and no RDB snapshots: ` +
        'the data is in memory only, so these rows are not durable across a Redis crash (appendfsync always would add an fsync per write).',
    )
  } else {
    stores = stores.filter((s) => !s.redis)
    notes.push('redis-server is not installed: the Redis rows were skipped.')
  }
}

// The SQL server rows run on the machine's servers; one that does not answer is left out.
for (const server of ['postgres', 'mysql']) {
  if (!stores.some((s) => s.sql === server)) continue
  if (sqlServerUp(server)) {
    notes.push(
      server === 'postgres'
        ? 'PostgreSQL rows use the machine\'s server on 127.0.0.1 (TCP) at its settings (synchronous_commit on, fsync on): every acknowledged write is durable, for ours and for the pg peer.'
        : 'MySQL rows use the machine\'s MariaDB on 127.0.0.1 (TCP) at its settings (innodb_flush_log_at_trx_commit as configured there): ours and the mysql2 peer alike.',
    )
  } else {
    stores = stores.filter((s) => s.sql !== server)
    notes.push(`no ${server === 'postgres' ? 'PostgreSQL' : 'MySQL'} server answers on this machine: its rows were skipped.`)
  }
}
// What an interrupted earlier run left behind on the servers.
if (stores.some((s) => s.sql)) dropBenchData()

// ---------------------------------------------------------------------------------------------
// Children

const tmp = mkdtempSync(join(tmpdir(), 'bra-bench-'))
let current = null // the child being measured
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }))
// 'exit' does not run when a signal ends the process: stop the child and clean up then too.
// (The redis helper's own handler has already killed the server; with this listener present it
// leaves exiting to us.)
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.on(signal, () => {
    if (current?.exitCode === null) current.kill('SIGKILL')
    rmSync(tmp, { recursive: true, force: true })
    process.exit(code)
  })
}
const fixturesPath = join(tmp, 'fixtures.json')
const childPath = join(here, 'lib', 'child.mjs')

function runChild(job, nodeArgs = []) {
  return new Promise((resolve) => {
    const args = [...nodeArgs, childPath, JSON.stringify({ sizes, fixturesPath, ...job })]
    current = execFile(process.execPath, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      current = null
      const line = stdout.split('\n').find((l) => l.startsWith('@@result '))
      if (err || !line) {
        resolve({ failed: (stderr.trim() || err?.message || 'no result').split('\n').slice(0, 12).join('\n') })
      } else {
        resolve(JSON.parse(line.slice('@@result '.length)))
      }
    })
  })
}

const redisUrlFor = (db) => (redis ? `${redis.url}/${db}` : undefined)
const populatedDir = (workload, store) => join(tmp, `${workload}-${store.id}`)

const failures = []
const fail = (what, message) => {
  failures.push({ what, message })
  console.log(`  FAILED ${what}:\n${message.replace(/^/gm, '    ')}`)
}

console.log(
  `baileys-rust-auth bench: ${quick ? 'QUICK, ' : ''}${runs} run${runs === 1 ? '' : 's'} (extra rows ${extraRuns}) × ${workloads.length} workloads × ${stores.length} stores` +
    (redis ? ` (redis-server pid ${redis.pid} on ${redis.url})` : ''),
)
let t0 = performance.now()
const fx = await runChild({ kind: 'fixtures' })
if (fx.failed) {
  console.error(`making fixtures failed:\n${fx.failed}`)
  process.exit(1)
}
console.log(`fixtures made in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

// coldstart and idle-100k read stores populated once, before the first run (their own Redis db,
// so that flushing db 0 between the other children leaves them alone).
for (const [workload, { db }] of Object.entries(POPULATED)) {
  if (!workloads.includes(workload)) continue
  t0 = performance.now()
  for (const store of stores.filter((s) => s.persistent && !s.skip?.includes(workload))) {
    mkdirSync(populatedDir(workload, store))
    const r = await runChild({
      kind: 'populate', workload, store: store.id, dir: populatedDir(workload, store),
      redisUrl: redisUrlFor(db), keyPrefix: `${workload}-${store.id}`,
    })
    if (r.failed) fail(`${workload} populate ${store.id}`, r.failed)
  }
  console.log(`${workload} stores populated in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}
if (workloads.includes('idle-100k') && stores.some((s) => s.id === 'multi-file')) {
  notes.push('idle-100k: useMultiFileAuthState is not run (100,000 folders of files).')
}

// The engine floor (Rust, raw rusqlite at FULL and NORMAL): once per run, in its own process,
// before the measurements start and after the fixtures (the machine is as quiet as this run
// ever gets it).
let floors = null
if (wantFloors) {
  t0 = performance.now()
  floors = await runFloors({ root, tmp, track: (child) => (current = child) })
  current = null
  if (floors.failed) fail('floors', floors.failed)
  else console.log(`engine floors measured in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}

const samples = Object.fromEntries(workloads.map((w) => [w, Object.fromEntries(stores.map((s) => [s.id, []]))]))
const errors = Object.fromEntries(workloads.map((w) => [w, {}]))
const workloadMeta = new Map()
for (const w of workloads) workloadMeta.set(w, await workloadInfo(w))

// --busy: one core taken by another process for the whole run.
let spinner = null
if (busy) {
  spinner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' })
  process.on('exit', () => spinner.kill('SIGKILL'))
  notes.push(`--busy: a spinning process (pid ${spinner.pid}, \`node -e 'for (;;) {}'\`) kept one core busy for the whole run.`)
}

for (let run = 0; run < runs; run++) {
  for (const workload of workloads) {
    // Rotate the store order every run, so no store always goes first (cold page cache, CPU clocks).
    const order = stores.map((_, i) => stores[(i + run) % stores.length])
    for (const store of order) {
      if ((workload === 'coldstart' && !store.persistent) || store.skip?.includes(workload)) continue
      if (POPULATED[workload] && store.persistent && failures.some((f) => f.what === `${workload} populate ${store.id}`)) continue
      // Extra rows take the last runs, so that they still interleave with the others.
      if ((store.extra || EXTRA_WORKLOADS.has(workload)) && run < runs - extraRuns) continue
      if (errors[workload][store.id]) continue // a failed store is not retried
      const cold = Boolean(POPULATED[workload]) && store.persistent
      const dir = cold ? populatedDir(workload, store) : join(tmp, `r${run}-${workload}-${store.id}`)
      if (!cold) mkdirSync(dir)
      const t0 = performance.now()
      const result = await runChild({
        kind: 'run', workload, store: store.id, dir,
        redisUrl: redisUrlFor(cold ? POPULATED[workload].db : 0),
        keyPrefix: cold ? `${workload}-${store.id}` : `r${run}-${workload}`,
      }, workloadMeta.get(workload).nodeArgs)
      const wall = (performance.now() - t0) / 1000
      if (!cold) rmSync(dir, { recursive: true, force: true })
      if (store.redis && !cold) await redisCommand(redis, 'FLUSHDB')
      if (store.sql && !cold) dropNamespace(namespaceOf(`r${run}-${workload}`))
      if (result.failed) {
        errors[workload][store.id] = result.failed
        fail(`${workload} ${store.id} (run ${run + 1})`, result.failed)
        continue
      }
      const { eld, ...metrics } = result
      samples[workload][store.id].push({ ...metrics, eldP99Ms: eld.p99Ms, eldMaxMs: eld.maxMs })
      const [key, meta] = Object.entries(workloadMeta.get(workload).metrics)[0]
      console.log(
        `run ${run + 1}/${runs}  ${workload.padEnd(15)} ${store.id.padEnd(15)} ${wall.toFixed(1).padStart(5)} s (cpu ${metrics.cpuSec.toFixed(1).padStart(4)} s)  ` +
          `${meta.unit === 'ms' ? metrics[key].toFixed(1) : metrics[key].toFixed(metrics[key] >= 100 ? 0 : 1)} ${meta.unit}`,
      )
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Medians, report, chart

if (spinner) spinner.kill('SIGKILL')

const medians = {}
for (const w of workloads) {
  medians[w] = {}
  for (const s of stores) {
    const runsOf = samples[w][s.id]
    if (errors[w][s.id] && runsOf.length === 0) {
      medians[w][s.id] = { failed: errors[w][s.id].split('\n')[0] }
      continue
    }
    if (runsOf.length === 0) continue
    const keys = Object.keys(runsOf[0])
    medians[w][s.id] = Object.fromEntries(keys.map((k) => [k, median(runsOf.map((r) => r[k]))]))
  }
}
// The floor rows join sessions-micro's table (and its targets) as if they were stores.
if (floors && !floors.failed && medians['sessions-micro']) Object.assign(medians['sessions-micro'], floorMedians(floors))

const versionOf = (pkg, from) => JSON.parse(readFileSync(createRequire(from).resolve(`${pkg}/package.json`), 'utf8')).version
const oursAtEnd = git('describe', '--always', '--dirty') || 'no git'
const ours =
  `${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version} ` +
  (oursAtStart === oursAtEnd ? `(${oursAtEnd})` : `(${oursAtStart} at start, ${oursAtEnd} at end: the code changed during the run)`)
const cpu = cpus()
const meta = {
  date: new Date().toISOString(),
  // Other work on the machine skews every row; the load average tells whether there was some.
  loadAverage: { start: loadAtStart, end: loadavg().map((l) => +l.toFixed(2)) },
  machine: `${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
  node: process.versions.node,
  quick,
  runs,
  extraRuns,
  sizes,
  busy,
  ...(process.env.BENCH_RESULTS ? { resultsName: process.env.BENCH_RESULTS } : {}),
  floors: floors && !floors.failed ? floors.meta : null,
  durationSec: (performance.now() - started) / 1000,
  versions: {
    ours,
    baileys: versionOf('baileys', join(root, 'package.json')),
    'better-sqlite3': versionOf('better-sqlite3', import.meta.url),
    ioredis: versionOf('ioredis', import.meta.url),
    pg: versionOf('pg', import.meta.url),
    mysql2: versionOf('mysql2', import.meta.url),
  },
  notes,
}
const base = resultsName(meta)
await writeReport({ meta, stores, medians, samples, failures, floors: floors?.rows ?? null })
console.log(`Wrote bench/results/${base}.{json,md}${base === 'latest' ? ' and bench/results/chart.svg' : ''} in ${Math.round(meta.durationSec)} s.`)
if (redis) await redis.stop()
if (stores.some((s) => s.sql)) dropBenchData()
if (failures.length) {
  console.error(`${failures.length} measurement(s) failed (see above).`)
  process.exitCode = 1
}

/**
 * Where a run's report goes: results/latest (the default), results/busy (--busy), or
 * results/<BENCH_RESULTS> for a partial run kept beside them (e.g. `BENCH_RESULTS=sql` with only
 * the SQL server rows), which leaves latest and the chart alone.
 */
function resultsName(meta) {
  return meta.resultsName ?? (meta.busy ? 'busy' : 'latest')
}

/** The metrics of a workload (a `-wired` one has its base's, relabelled) and its node flags. */
async function workloadInfo(w) {
  const wired = w.endsWith('-wired')
  const mod = await import(`./workloads/${w.replace(/-wired$/, '')}.mjs`)
  const metrics = !wired ? mod.metrics : Object.fromEntries(
    Object.entries(mod.metrics).map(([k, m]) => [k, { ...m, label: `${m.label}, wired (makeCacheableSignalKeyStore)`, short: `${m.short} wired` }]),
  )
  return { metrics, nodeArgs: mod.nodeArgs ?? [] }
}

/**
 * Writes results/latest.{json,md} and chart.svg (or, with --busy, results/busy.{json,md}, set
 * against latest.json), prints the markdown; returns the targets.
 */
async function writeReport(report) {
  const { meta, medians } = report
  const stores = [...report.stores, ...(medians['sessions-micro'] ? FLOOR_ROWS.filter((r) => medians['sessions-micro'][r.id]) : [])]
  const workloads = ALL_WORKLOADS.filter((w) => medians[w])
  const metrics = new Map()
  for (const w of workloads) metrics.set(w, (await workloadInfo(w)).metrics)
  const view = { ...report, stores, workloads, metricsOf: (w) => metrics.get(w) }
  const results = join(here, 'results')
  mkdirSync(results, { recursive: true })
  let { markdown, targets } = renderMarkdown(view)
  if (meta.busy) {
    let idle = null
    try {
      idle = JSON.parse(readFileSync(join(results, 'latest.json'), 'utf8'))
    } catch {}
    markdown = renderBusy(view, targets, idle) + '\n' + markdown
  }
  const base = resultsName(meta)
  const { stores: _, ...saved } = report
  writeFileSync(join(results, `${base}.json`), JSON.stringify({ ...saved, stores: report.stores, targets }, null, 2) + '\n')
  writeFileSync(join(results, `${base}.md`), markdown)
  if (base === 'latest') writeFileSync(join(results, 'chart.svg'), renderChart({ ...view, stores: stores.filter((s) => !s.floor) }))
  console.log('\n' + markdown)
  return targets
}
