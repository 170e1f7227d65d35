// The engine floor inside `npm run bench`: raw rusqlite (benches/floors/raw.rs) doing what
// sessions-micro does, one 1.9 KB session record read and rewritten, at synchronous=FULL (the
// shipped durability, the floor the target is judged against) and at NORMAL (no fsync per
// commit: shown, not targeted). Run once per run of the suite with `cargo bench` in its own
// process; the first run on a fresh clone also compiles the bench (minutes).
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The cases run (name filters) and the rows they become in sessions-micro's table. */
const CASES = ['raw/micro_session_1_9k', 'raw/put_session_1_9k', 'raw/get_session_1_9k']
export const FLOOR_ROWS = [
  { id: 'floor-raw-full', case: 'raw/micro_session_1_9k', label: 'engine floor: raw rusqlite (WAL, FULL), Rust, no Node', floor: true },
  { id: 'floor-raw-normal', case: 'raw/micro_session_1_9k_normal', label: 'engine floor: raw rusqlite (WAL, NORMAL), Rust, no Node', floor: true },
]

/** Runs the floor cases; resolves to { rows, meta } (the FLOORS_JSON content) or { failed }. */
export function runFloors({ root, tmp, track }) {
  const json = join(tmp, 'floors.json')
  return new Promise((resolve) => {
    const args = ['bench', '--no-default-features', '--bench', 'floors', '--', ...CASES]
    const child = spawn('cargo', args, { cwd: root, env: { ...process.env, FLOORS_JSON: json }, stdio: ['ignore', 'ignore', 'pipe'] })
    track(child)
    let stderr = ''
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)))
    child.on('error', (e) => resolve({ failed: `cargo bench could not start: ${e.message}` }))
    child.on('close', (code) => {
      if (code !== 0) return resolve({ failed: `cargo bench exited with ${code}:\n${stderr.trim().split('\n').slice(-10).join('\n')}` })
      try {
        resolve(JSON.parse(readFileSync(json, 'utf8')))
      } catch (e) {
        resolve({ failed: `no floors JSON: ${e.message}` })
      }
    })
  })
}

/**
 * sessions-micro rows of the floors: ops/s as sessions-micro counts them (one iteration of the
 * micro case is one get and one set, two ops), and the get and set medians alone.
 */
export function floorMedians({ rows }) {
  const ns = (name) => rows.find((r) => r.case === name)?.medianNs
  const out = {}
  for (const [row, suffix] of [[FLOOR_ROWS[0], ''], [FLOOR_ROWS[1], '_normal']]) {
    const pair = ns(row.case)
    if (!Number.isFinite(pair)) continue
    out[row.id] = {
      opsPerSec: 2e9 / pair,
      getP50Ms: ns(`raw/get_session_1_9k${suffix}`) / 1e6,
      setP50Ms: ns(`raw/put_session_1_9k${suffix}`) / 1e6,
    }
  }
  return out
}
