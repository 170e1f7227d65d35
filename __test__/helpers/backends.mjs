// The stores every behavioural suite runs against. Redis runs on a private redis-server
// per test (see redis-server.mjs); where redis-server is missing the Redis rows are left
// out here, and redis.test.mjs fails in CI (CI=true) instead of skipping. PostgreSQL and
// MySQL are the machine's servers, a new schema or table prefix per store (sql-servers.mjs);
// in CI they are always in, so a missing server fails the run.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'

import { redisAvailable, startRedis, startRedisCluster } from './redis-server.mjs'
import { mysqlAvailable, mysqlUrl, postgresAvailable, postgresUrl } from './sql-servers.mjs'
import { tempDir } from './temp.mjs'

/**
 * name: shown in test titles; persistent: whether data outlives closing the store;
 * url(): a URL of a new, empty store; options: what to open it with (openStore's options, and
 * spread into useRustAuthState's).
 */
export const BACKENDS = [
  { name: 'sqlite-file', persistent: true, url: async () => `sqlite:${join(tempDir(), 'auth.db')}` },
  { name: 'sqlite::memory:', persistent: false, url: async () => 'sqlite::memory:' },
  { name: 'memory:', persistent: false, url: async () => 'memory:' },
  ...(redisAvailable() ? [{ name: 'redis', persistent: true, url: async () => (await startRedis({ unixSocket: true })).url }] : []),
  ...(postgresAvailable() ? [{ name: 'postgres', persistent: true, url: async () => postgresUrl() }] : []),
  ...(mysqlAvailable() ? [{ name: 'mysql', persistent: true, url: async () => mysqlUrl() }] : []),
]

/** A key for the encrypted stores of this test process (docs/encryption.md). */
const KEY = randomBytes(32)

/**
 * The backends again, encrypted at rest: the suites that prove a store works with Baileys run
 * on them too (the encryption layer wraps every backend the same way).
 */
export const ENCRYPTED_BACKENDS = BACKENDS.filter((b) => ['sqlite-file', 'redis', 'postgres', 'mysql'].includes(b.name)).map((b) => ({
  ...b,
  name: `${b.name} encrypted`,
  options: { encryption: { key: KEY } },
}))

/** The persistent backends, plus a Redis Cluster: where a conversation must survive a restart. */
export const DURABLE_BACKENDS = [
  ...BACKENDS.filter((b) => b.persistent),
  ...(redisAvailable() ? [{ name: 'redis-cluster', persistent: true, url: async () => (await startRedisCluster()).url }] : []),
  ...ENCRYPTED_BACKENDS,
]
