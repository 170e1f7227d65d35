// Many processes racing for one session (SQLite file or Redis), with takeovers, kill -9,
// SIGSTOP/SIGCONT around leaseMs, and event-loop stalls. Every write is one batch: a log entry
// {e: epoch, n, prev} under a unique id, plus meta.head = that id; prev is the head the writer
// read (through its own owner cache) just before. Afterwards: the log must be ONE chain (no
// two entries with the same prev: that would be two writers working from one state), epochs
// non-decreasing along it, and every write a worker acknowledged must be in the store.
// Usage: node repro/storm.mjs sqlite|redis [seconds] [workers]
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, useRustAuthState } from '../index.mjs'

const BAILEYS = { initAuthCreds: () => ({ me: { id: 'x' } }), proto: {} }
const [, self, kind, a2, a3, a4] = process.argv
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const rnd = (n) => Math.floor(Math.random() * n)

if (kind === 'worker') {
  const url = a2
  const me = a3
  let gen = 0
  for (;;) {
    let auth
    const takeover = Math.random() < 0.3
    try {
      auth = await useRustAuthState('s', { store: url, leaseMs: 1000 + rnd(1000), takeover, baileys: BAILEYS })
    } catch (e) {
      if (e.code !== 'ERR_SESSION_LOCKED') console.log('ACQERR', e.code, e.message)
      await sleep(rnd(200))
      continue
    }
    const epoch = auth.stats().lease.epoch
    const writes = 1 + rnd(30)
    for (let i = 0; i < writes; i++) {
      try {
        const { head } = await auth.state.keys.get('meta', ['head'])
        const id = `${epoch}.${me}.${gen}.${i}`
        if (rnd(20) === 0) { const t = Date.now() + 800 + rnd(1500); while (Date.now() < t) {} } // stall
        await auth.state.keys.set({ log: { [id]: { e: epoch, n: i, prev: head?.id ?? null } }, meta: { head: { id } } })
        console.log('ACK', id)
      } catch (e) {
        if (e.code !== 'ERR_SESSION_FENCED') console.log('WERR', e.code, e.message)
        break
      }
      if (rnd(3) === 0) await sleep(rnd(50))
    }
    gen++
    if (rnd(3) > 0) await auth.close() // else: abandon the handle (it stays "owned" until lost)
    await sleep(rnd(100))
  }
} else {
  const seconds = Number(a2 ?? 40)
  const nWorkers = Number(a3 ?? 6)
  let url
  let stop = async () => {}
  if (kind === 'redis') {
    const { startRedis, stopAll } = await import('../__test__/helpers/redis-server.mjs')
    url = (await startRedis({ unixSocket: true })).url
    stop = stopAll
  } else url = `sqlite:${join(mkdtempSync(join(tmpdir(), 'storm-')), 'auth.db')}`
  const acked = new Set()
  const errors = []
  let spawned = 0
  const workers = new Map()
  const start = () => {
    const me = `w${spawned++}`
    const c = spawn(process.execPath, [self, 'worker', url, me], { stdio: ['ignore', 'pipe', 'inherit'] })
    let buf = ''
    c.stdout.on('data', (d) => {
      buf += d
      const lines = buf.split('\n')
      buf = lines.pop()
      for (const l of lines) {
        if (l.startsWith('ACK ')) acked.add(l.slice(4))
        else errors.push(`${me}: ${l}`)
      }
    })
    workers.set(me, c)
    c.on('exit', () => workers.delete(me))
  }
  for (let i = 0; i < nWorkers; i++) start()
  const end = Date.now() + seconds * 1000
  let kills = 0, stops = 0
  while (Date.now() < end) {
    await sleep(100 + rnd(400))
    const list = [...workers.values()]
    const victim = list[rnd(list.length)]
    if (!victim) continue
    if (Math.random() < 0.5) {
      victim.kill('SIGKILL'); kills++
      start()
    } else {
      victim.kill('SIGSTOP'); stops++
      setTimeout(() => victim.kill('SIGCONT'), 500 + rnd(2500))
    }
  }
  for (const c of workers.values()) { c.kill('SIGCONT'); c.kill('SIGKILL') }
  await sleep(500)
  const store = await openStore(url)
  const logIds = (await store.listKeys?.('s'))
  let entries
  {
    // read every acked id plus the chain from head
    const ids = [...acked]
    const got = ids.length ? await store.getKeys('s', 'log', ids) : {}
    const lost = ids.filter((id) => !got[id])
    console.log(`${kind}: ${acked.size} acknowledged writes, ${lost.length} missing from the store`, lost.slice(0, 5))
    // follow the chain from head
    const { head } = await store.getKeys('s', 'meta', ['head'])
    let cur = head?.id
    const chain = []
    const seen = new Set()
    while (cur) {
      if (seen.has(cur)) { console.log('CYCLE at', cur); break }
      seen.add(cur)
      const { [cur]: e } = await store.getKeys('s', 'log', [cur])
      if (!e) { console.log('chain broken: missing', cur); break }
      chain.push([cur, e])
      cur = e.prev
    }
    chain.reverse()
    let backwards = 0
    for (let i = 1; i < chain.length; i++) if (chain[i][1].e < chain[i - 1][1].e) backwards++
    const offChain = ids.filter((id) => got[id] && !seen.has(id))
    console.log(`chain length ${chain.length}; epoch going backwards along it: ${backwards}; acknowledged writes NOT on the chain (forks = two writers): ${offChain.length}`, offChain.slice(0, 5))
    if (offChain.length) {
      for (const id of offChain.slice(0, 3)) console.log('  fork:', id, JSON.stringify(got[id]))
    }
  }
  console.log(`kills ${kills}, stops ${stops}, workers spawned ${spawned}; worker errors:`, errors.slice(0, 10))
  await store.close()
  await stop()
}
