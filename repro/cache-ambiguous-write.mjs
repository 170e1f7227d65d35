// A Redis write whose reply is late (past commandTimeoutMs) rejects ERR_STORE_UNAVAILABLE but
// WAS applied (docs/ownership.md says so: "may or may not have been applied"). The owner cache
// treats every failure as "the store kept the old value" (writeDone: `if (!ok) continue`) and
// keeps serving the OLD value from memory while the store holds the new one: cache != store,
// for as long as the handle lives. (Safe behaviour: on a failure that may have been applied,
// drop the keys from the cache so the next read asks the store.)
import { connect, createServer } from 'node:net'
import { openStore, useRustAuthState } from '../index.mjs'
import { startRedis, stopAll } from '../__test__/helpers/redis-server.mjs'

const redis = await startRedis()
const upstreamPort = Number(new URL(redis.url).port)
let delayReplies = false
const server = createServer((client) => {
  const up = connect({ port: upstreamPort, host: '127.0.0.1' })
  client.pipe(up)
  let chain = Promise.resolve()
  up.on('data', (chunk) => {
    const hold = delayReplies
    chain = chain.then(async () => {
      if (hold) await new Promise((r) => setTimeout(r, 1500)) // the reply is late, not lost
      client.write(chunk)
    })
  })
  for (const s of [client, up]) s.on('error', () => { client.destroy(); up.destroy() })
})
await new Promise((r) => server.listen(0, '127.0.0.1', r))
const url = `redis://127.0.0.1:${server.address().port}`
const store = await openStore(url, { commandTimeoutMs: 500 })
const auth = await useRustAuthState('s', { store, baileys: { initAuthCreds: () => ({}), proto: {} } })
await auth.state.keys.set({ session: { k: { v: 'old' } } })
delayReplies = true
try {
  await auth.state.keys.set({ session: { k: { v: 'new' } } })
  console.log('set acknowledged')
} catch (e) {
  console.log('set rejected:', e.code)
}
delayReplies = false
await new Promise((r) => setTimeout(r, 2000)) // the late reply has arrived and been dropped
const direct = await openStore(redis.url)
console.log('store holds:', JSON.stringify(await direct.getKeys('s', 'session', ['k'])))
console.log('handle reads:', JSON.stringify(await auth.state.keys.get('session', ['k'])), 'cache', JSON.stringify(auth.stats().cache))
await direct.close()
await auth.close()
await store.close()
server.close()
await stopAll()
