// The stores a run compares: each row is one peer module with its options. `redis` rows use
// the run's private redis-server; `persistent: false` rows have nothing to cold-start from;
// `skip` lists workloads a row does not run. `extra` rows are context that no target is judged
// against: they run BENCH_EXTRA_RUNS times (default 1), which keeps a full run near 10 minutes
// (useMultiFileAuthState alone would add ~3 minutes at 5 runs, mostly in chat). Every store runs
// the `-wired` workloads (makeCacheableSignalKeyStore around its keys, lib/child.mjs).
// The extra rows skip the many-session workloads (fleet-1000, idle-100k): no target uses them,
// and they would cost minutes per run.
const MANY = ['fleet-1000', 'fleet-1000-wired', 'idle-100k']
// The ownership rows compare ours with ours: the plain workloads say it.
const WIRED = ['chat-wired', 'fanout-wired', 'fleet-100-wired']
export const STORES = [
  { id: 'ours-sqlite', label: 'baileys-rust-auth (SQLite)', module: 'ours.mjs', options: { backend: 'sqlite' }, persistent: true },
  { id: 'ours-redis', label: 'baileys-rust-auth (Redis)', module: 'ours.mjs', options: { backend: 'redis' }, redis: true, persistent: true },
  // What ownership costs and what the owner's cache gives (docs/ownership.md): the default rows
  // above own each session (a lease, fenced writes) and cache it; these own it without the
  // cache, and neither own nor cache it (as before ownership existed).
  { id: 'ours-sqlite-nocache', label: 'baileys-rust-auth (SQLite), leased, no cache', module: 'ours.mjs', options: { backend: 'sqlite', cacheBytes: 0 }, persistent: true, extra: true, skip: ['coldstart', ...MANY, ...WIRED] },
  { id: 'ours-sqlite-nolease', label: 'baileys-rust-auth (SQLite), lease: false', module: 'ours.mjs', options: { backend: 'sqlite', lease: false }, persistent: true, extra: true, skip: ['coldstart', ...MANY, ...WIRED] },
  { id: 'ours-redis-nocache', label: 'baileys-rust-auth (Redis), leased, no cache', module: 'ours.mjs', options: { backend: 'redis', cacheBytes: 0 }, redis: true, persistent: true, extra: true, skip: ['coldstart', ...MANY, ...WIRED] },
  { id: 'ours-redis-nolease', label: 'baileys-rust-auth (Redis), lease: false', module: 'ours.mjs', options: { backend: 'redis', lease: false }, redis: true, persistent: true, extra: true, skip: ['coldstart', ...MANY, ...WIRED] },
  { id: 'bsqlite-full', label: 'better-sqlite3 (WAL, FULL)', module: 'better-sqlite3.mjs', options: { synchronous: 'FULL' }, persistent: true },
  // The NORMAL row is extra information, so it runs only where it is cheap and says something:
  // chat is dominated by Signal crypto (seconds per run for every store), and coldstart only
  // reads, where synchronous changes nothing.
  { id: 'bsqlite-normal', label: 'better-sqlite3 (WAL, NORMAL)', module: 'better-sqlite3.mjs', options: { synchronous: 'NORMAL' }, persistent: true, extra: true, skip: ['chat', 'chat-wired', 'coldstart', ...MANY] },
  { id: 'ioredis', label: 'ioredis (hash per type)', module: 'ioredis.mjs', options: {}, redis: true, persistent: true },
  // The SQL servers (the machine's, lib/sql.mjs): ours against a careful pure-JS store on each
  // server's usual driver. They skip the many-session and wired workloads (no target, minutes
  // per run).
  { id: 'ours-postgres', label: 'baileys-rust-auth (PostgreSQL)', module: 'ours.mjs', options: { backend: 'postgres' }, sql: 'postgres', persistent: true, skip: [...MANY, ...WIRED] },
  { id: 'pg', label: 'pg (one table, a transaction per set)', module: 'pg.mjs', options: {}, sql: 'postgres', persistent: true, skip: [...MANY, ...WIRED] },
  { id: 'ours-mysql', label: 'baileys-rust-auth (MySQL)', module: 'ours.mjs', options: { backend: 'mysql' }, sql: 'mysql', persistent: true, skip: [...MANY, ...WIRED] },
  { id: 'mysql2', label: 'mysql2 (one table, a transaction per set)', module: 'mysql2.mjs', options: {}, sql: 'mysql', persistent: true, skip: [...MANY, ...WIRED] },
  // Encrypted at rest (docs/encryption.md): what the cipher layer costs, each against the same
  // backend unencrypted (bench/lib/targets.mjs). The workloads that move values: the chat and
  // fan-out, and the awaited small calls. Extra rows (one run by default): BENCH_EXTRA_RUNS=5
  // for the targets' medians.
  ...['sqlite', 'redis', 'postgres', 'mysql'].map((backend) => ({
    id: `ours-${backend}-encrypted`,
    label: `baileys-rust-auth (${{ sqlite: 'SQLite', redis: 'Redis', postgres: 'PostgreSQL', mysql: 'MySQL' }[backend]}), encrypted`,
    module: 'ours.mjs',
    options: { backend, encrypted: true },
    ...(backend === 'redis' ? { redis: true } : backend === 'sqlite' ? {} : { sql: backend }),
    persistent: true,
    extra: true,
    skip: ['coldstart', 'appstate', 'prekeys', 'fleet-100', ...MANY, ...WIRED],
  })),
  // idle-100k would make 100,000 folders: skipped (noted in the report).
  { id: 'multi-file', label: 'useMultiFileAuthState', module: 'multi-file.mjs', options: {}, persistent: true, extra: true, skip: MANY },
  { id: 'memory-map', label: 'in-memory Map', module: 'memory-map.mjs', options: {}, persistent: false },
]

export const storeById = (id) => {
  const store = STORES.find((s) => s.id === id)
  if (!store) throw new Error(`unknown store ${id}; known: ${STORES.map((s) => s.id).join(', ')}`)
  return store
}

/** Opens a store row's backend in this process. */
export async function openBackend(store, config) {
  const peer = await import(new URL(`./${store.module}`, import.meta.url))
  return peer.open({ ...config, options: store.options })
}
