// The stores every behavioural suite runs against. Redis runs on a private redis-server
// per test (see redis-server.mjs); where redis-server is missing the Redis rows are left
// out here, and redis.test.mjs fails in CI (CI=true) instead of skipping. PostgreSQL and
// MySQL are the machine's servers, a new schema or table prefix per store (sql-servers.mjs);
// in CI they are always in, so a missing server fails the run.
import { join } from 'node:path'

import { redisAvailable, startRedis, startRedisCluster } from './redis-server.mjs'
import { mysqlAvailable, mysqlUrl, postgresAvailable, postgresUrl } from './sql-servers.mjs'
import { tempDir } from './temp.mjs'

/**
 * name: shown in test titles; persistent: whether data outlives closing the store;
 * url(): a URL of a new, empty store.
 */
export const BACKENDS = [
  { name: 'sqlite-file', persistent: true, url: async () => `sqlite:${join(tempDir(), 'auth.db')}` },
  { name: 'sqlite::memory:', persistent: false, url: async () => 'sqlite::memory:' },
  { name: 'memory:', persistent: false, url: async () => 'memory:' },
  ...(redisAvailable() ? [{ name: 'redis', persistent: true, url: async () => (await startRedis({ unixSocket: true })).url }] : []),
  ...(postgresAvailable() ? [{ name: 'postgres', persistent: true, url: async () => postgresUrl() }] : []),
  ...(mysqlAvailable() ? [{ name: 'mysql', persistent: true, url: async () => mysqlUrl() }] : []),
]

/** The persistent backends, plus a Redis Cluster: where a conversation must survive a restart. */
export const DURABLE_BACKENDS = [
  ...BACKENDS.filter((b) => b.persistent),
  ...(redisAvailable() ? [{ name: 'redis-cluster', persistent: true, url: async () => (await startRedisCluster()).url }] : []),
]
