// The malformed-input suite, run against a Redis store: no input crashes the process or
// writes part of a rejected call, whatever the backend.
import test from 'ava'

import { redisAvailable, requireRedis } from './helpers/redis-server.mjs'

if (redisAvailable()) {
  process.env.BRA_MALFORMED_BACKEND = 'redis'
  await import('./malformed-input.test.mjs')
} else {
  test('the malformed-input suite runs on Redis', (t) => {
    requireRedis(t)
  })
}
