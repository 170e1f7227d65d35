#!/usr/bin/env node
// Checks the JavaScript module graph: walks every require() from the entries (index.js,
// index.mjs, bin/*.js) over lib/, prints the graph, and fails (exit 1) on
//   - a require circle,
//   - a module requiring one ranked above it (RANKS below; one rank may require its own),
//   - any module but index.mjs (the ESM face of index.js) requiring index.js,
//   - a module of lib/ missing from RANKS (a new module must say where it belongs),
//   - a required file that does not exist.
// Usage: node scripts/check-architecture.mjs [root]   (root: the package, by default this one)

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import { circles, edgesUp, rustGraph } from './architecture/rust-modules.mjs'

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'))

/** Lowest first. A module may require modules of its own rank or below, never above. */
const RANKS = [
  // what everything stands on: errors, the addon, small helpers with no view of the API
  ['lib/errors.js', 'lib/native.js', 'lib/redact.js', 'lib/buffer-json.js', 'lib/default-store.js', 'lib/spin.js',
    'lib/key-map.js', 'lib/bounded-reads.js', 'lib/did-you-mean.js'],
  // the twins of src/core/codec.rs and src/core/wire.rs, and the app-state layout over the codec
  ['lib/codec.js', 'lib/wire.js', 'lib/app-state.js', 'lib/app-state-cache.js'],
  // the one gate for what callers pass
  ['lib/args.js'],
  // one open store, and one owned session: its lease and the owner's cache
  ['lib/store.js', 'lib/ownership.js', 'lib/owner-cache.js'],
  // what is built on stores: sharing them, moving sessions, the folder format
  ['lib/shared-stores.js', 'lib/session-handle.js', 'lib/transfer/copy.js', 'lib/transfer/export.js', 'lib/transfer/migrate.js', 'lib/transfer/whole.js', 'lib/folder.js',
    'lib/rekey.js', 'lib/convert.js'],
  // the faces of the package
  ['index.js', 'index.mjs', 'bin/baileys-rust-auth.js'],
]
const rankOf = new Map(RANKS.flatMap((modules, rank) => modules.map((m) => [m, rank])))

const problems = []

/** The package-relative files a module requires or imports (relative specifiers only). */
function dependenciesOf(file) {
  const text = readFileSync(join(root, file), 'utf8')
  // Comments may quote require() calls; they are not dependencies.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
  const specifiers = [
    ...[...code.matchAll(/\brequire\(\s*(['"])([^'"]+)\1\s*\)/g)].map((m) => m[2]),
    ...[...code.matchAll(/\bimport\s+(?:[^'"]*?\sfrom\s+)?(['"])([^'"]+)\1/g)].map((m) => m[2]),
    ...[...code.matchAll(/\bimport\(\s*(['"])([^'"]+)\1\s*\)/g)].map((m) => m[2]),
  ]
  const deps = []
  for (const specifier of specifiers) {
    if (!specifier.startsWith('.')) continue // node: built-ins and packages
    const target = resolveFile(join(dirname(join(root, file)), specifier))
    if (!target) {
      // binding.js is written by the build (napi build): a fresh clone has none yet.
      if (relative(root, join(dirname(join(root, file)), specifier)) === 'binding.js') continue
      problems.push(`${file} requires ${specifier}, which does not exist`)
      continue
    }
    deps.push(relative(root, target).split('\\').join('/'))
  }
  return [...new Set(deps)]
}

function resolveFile(path) {
  for (const candidate of [path, `${path}.js`, join(path, 'index.js')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate
  }
  return null
}

/** Only JavaScript modules are walked: package.json and the generated binding.js are leaves. */
const isModule = (file) => /\.(c|m)?js$/.test(file) && file !== 'binding.js'

const entries = ['index.js', 'index.mjs', ...readdirSync(join(root, 'bin')).filter((f) => f.endsWith('.js')).map((f) => `bin/${f}`)]
const graph = new Map()
const queue = [...entries]
while (queue.length > 0) {
  const file = queue.shift()
  if (graph.has(file)) continue
  const deps = dependenciesOf(file)
  graph.set(file, deps)
  for (const dep of deps) if (isModule(dep) && !graph.has(dep)) queue.push(dep)
}

// Every module of lib/ is ranked, reachable or not.
function libModules(dir) {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? libModules(`${dir}/${d.name}`) : d.name.endsWith('.js') ? [`${dir}/${d.name}`] : [],
  )
}
for (const file of libModules('lib')) {
  if (!rankOf.has(file)) problems.push(`${file} has no rank in scripts/check-architecture.mjs: add it to RANKS`)
  if (!graph.has(file)) problems.push(`${file} is required by no entry (index.js, index.mjs, bin/): remove it or use it`)
}

for (const [file, deps] of graph) {
  for (const dep of deps.filter(isModule)) {
    if (dep === 'index.js' && file !== 'index.mjs') problems.push(`${file} requires index.js: only index.mjs may; require the lib/ module instead`)
    const [from, to] = [rankOf.get(file), rankOf.get(dep)]
    if (from !== undefined && to !== undefined && to > from) {
      problems.push(`${file} (rank ${from}) requires ${dep} (rank ${to}), which is ranked above it`)
    }
  }
}

// Circles: a depth-first walk that meets a module still on its path.
const state = new Map() // file -> 'open' | 'done'
function walk(file, path) {
  if (state.get(file) === 'done') return
  if (state.get(file) === 'open') {
    problems.push(`require circle: ${[...path.slice(path.indexOf(file)), file].join(' -> ')}`)
    return
  }
  state.set(file, 'open')
  for (const dep of graph.get(file) ?? []) if (graph.has(dep)) walk(dep, [...path, file])
  state.set(file, 'done')
}
for (const entry of entries) walk(entry, [])

for (let rank = RANKS.length - 1; rank >= 0; rank--) {
  console.log(`rank ${rank}`)
  for (const file of RANKS[rank]) {
    if (!graph.has(file)) continue
    const deps = graph.get(file)
    console.log(`  ${file}${deps.length > 0 ? ` -> ${deps.join(', ')}` : ''}`)
  }
}

console.log(`\n${graph.size} JavaScript modules`)

// The Rust crate: the `use` graph between the files of src/ (scripts/architecture/rust-modules.mjs).
// Lowest first; a file may use files of its own rank or below. Backends are dumb byte stores:
// none uses another backend or anything above; layers wrap any backend, so none names one.
const RUST_RANKS = [
  ['src/core/error.rs', 'src/core/varint.rs', 'src/core/redact.rs'],
  // src/core/cipher/: the primitives of encryption at rest (keys, the store record, sealing).
  ['src/core/codec.rs', 'src/core/lease.rs', 'src/core/store.rs', 'src/core/cipher/'],
  ['src/core/wire.rs'],
  // The backends; `src/core/sql/` holds the two SQL server backends (postgres/, mysql/) and
  // what they share (mod.rs, options.rs).
  ['src/core/memory.rs', 'src/core/sqlite/', 'src/core/redis/', 'src/core/sql/'],
  ['src/core/url.rs', 'src/core/layers/'],
  ['src/core/open.rs'],
  ['src/core/executor.rs'],
  ['src/napi/'],
  ['src/core/mod.rs', 'src/lib.rs'],
]
const rustRankOf = (file) => {
  const rank = RUST_RANKS.findIndex((entries) => entries.some((e) => (e.endsWith('/') ? file.startsWith(e) : file === e)))
  return rank < 0 ? undefined : rank
}
// The SQL servers' shared files (src/core/sql/mod.rs, options.rs) are no backend: both use them.
const backendOf = (file) => /^src\/core\/(memory\.rs|sqlite\/|redis\/|sql\/postgres\/|sql\/mysql\/)/.exec(file)?.[1]
const rust = rustGraph(root)
problems.push(...edgesUp(rust, rustRankOf))
for (const [file, uses] of rust) {
  for (const used of uses) {
    if (backendOf(file) && backendOf(used) && backendOf(file) !== backendOf(used)) problems.push(`${file} (a backend) uses ${used}, another backend`)
    if (file.startsWith('src/core/layers/') && backendOf(used)) problems.push(`${file} (a layer) uses ${used}, a backend: layers wrap any backend`)
    if (file.startsWith('src/core/') && used.startsWith('src/napi/')) problems.push(`${file} (the core) uses ${used}: the core knows nothing of N-API`)
  }
}
for (const circle of circles(rust)) problems.push(`files that use each other in a circle: ${circle.join(', ')}`)
for (let rank = RUST_RANKS.length - 1; rank >= 0; rank--) {
  console.log(`rust rank ${rank}`)
  for (const [file, uses] of rust) {
    if (rustRankOf(file) === rank) console.log(`  ${file}${uses.size > 0 ? ` -> ${[...uses].join(', ')}` : ''}`)
  }
}
console.log(`\n${rust.size} Rust files (tests excluded: test code may use anything)`)

if (problems.length > 0) {
  console.error(`\n${problems.length} architecture problem(s):`)
  for (const problem of problems) console.error(`  ${problem}`)
  process.exit(1)
}
console.log('\nno circles, no module using one above it, in JavaScript or Rust')
