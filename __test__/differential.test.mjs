// Differential test: our store against Baileys' own `useMultiFileAuthState` as the oracle.
//
// A seeded PRNG drives the same random sequence of key batches (sets and deletes across all
// ten Baileys 7 key types plus one unknown future type), reads and creds saves against both
// stores; every read, a full read of every id ever touched at the end, and the creds after
// reopening must be equal. Values have the shapes Baileys really stores.
//
// Replay a failure with DIFF_SEEDS=<seed>[,<seed>...]; DIFF_OPS=<n> sets the operations per seed.
//
// Oracle limitations that the generator steers around (they are not what is tested here):
//   - Baileys maps a key to the file `${type}-${id}.json` with `/` -> `__` and `:` -> `-`,
//     so ids that collide under that mangling are never generated;
//   - Baileys deletes a key on any falsy value (0, '', false); we delete only on null and
//     undefined, so no falsy value is ever stored.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import test from 'ava'

import { openStore, useRustAuthState } from '../index.mjs'
import { redisAvailable, startRedis, stopAll } from './helpers/redis-server.mjs'
import { mysqlAvailable, mysqlUrl, postgresAvailable, postgresUrl } from './helpers/sql-servers.mjs'

const baileys = await import('baileys')
const { useMultiFileAuthState, proto, initAuthCreds } = baileys

const SEEDS = process.env.DIFF_SEEDS
  ? process.env.DIFF_SEEDS.split(',').map(Number)
  : [0xc0ffee, 20250101, 7]
const OPS_PER_SEED = Number(process.env.DIFF_OPS ?? 150)


test.after.always(stopAll)

const BACKENDS = [
  { name: 'SQLite file', url: (dir) => `sqlite:${join(dir, 'auth.db')}`, reopensFromDisk: true },
  { name: 'SQLite in memory', url: () => 'sqlite::memory:', reopensFromDisk: false },
  { name: 'in-memory reference', url: () => 'memory:', reopensFromDisk: false },
  // A private redis-server per test; "reopen" closes the store and opens the same server again.
  ...(redisAvailable() ? [{ name: 'Redis', url: async () => (await startRedis({ unixSocket: true })).url, reopensFromDisk: true }] : []),
  // The machine's servers, a new schema / table prefix per test; "reopen" opens the same one again.
  ...(postgresAvailable() ? [{ name: 'PostgreSQL', url: async () => postgresUrl(), reopensFromDisk: true }] : []),
  ...(mysqlAvailable() ? [{ name: 'MySQL', url: async () => mysqlUrl(), reopensFromDisk: true }] : []),
  // Encrypted at rest (docs/encryption.md): the same answers through the cipher layer.
  { name: 'SQLite file, encrypted', url: (dir) => `sqlite:${join(dir, 'auth.db')}`, reopensFromDisk: true, options: { encryption: { key: randomBytes(32) } } },
  ...(redisAvailable()
    ? [{ name: 'Redis, encrypted', url: async () => (await startRedis({ unixSocket: true })).url, reopensFromDisk: true, options: { encryption: { passphrase: 'differential' } } }]
    : []),
]

const KEY_TYPES = [
  'pre-key',
  'session',
  'sender-key',
  'sender-key-memory',
  'app-state-sync-key',
  'app-state-sync-version',
  'lid-mapping',
  'device-list',
  'tctoken',
  'identity-key',
]
const FUTURE_TYPE = 'future-type'
const ALL_TYPES = [...KEY_TYPES, FUTURE_TYPE]

// ---- seeded randomness ------------------------------------------------------------------

/** mulberry32: a tiny PRNG, deterministic per seed. */
function makeRandom(seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1))
  const chance = (p) => next() < p
  const pick = (list) => list[Math.floor(next() * list.length)]
  const digits = (n) => Array.from({ length: n }, (_, i) => (i === 0 ? int(1, 9) : int(0, 9))).join('')
  /** Random bytes; sometimes a view into a larger buffer, as Curve keys often are. */
  const bytes = (n) => {
    const pad = chance(0.3) ? int(1, 16) : 0
    const whole = Buffer.alloc(n + 2 * pad)
    for (let i = 0; i < whole.length; i++) whole[i] = int(0, 255)
    return pad ? whole.subarray(pad, pad + n) : whole
  }
  const b64 = (n) => bytes(n).toString('base64')
  return { next, int, chance, pick, digits, bytes, b64 }
}

// ---- realistic ids ----------------------------------------------------------------------

/** The file Baileys' multi-file store keeps a key in (its name mangling). */
const oracleFileName = (type, id) => `${type}-${id}.json`.replace(/\//g, '__').replace(/:/g, '-')

function idCandidate(r, type) {
  const pn = () => r.digits(r.int(10, 13))
  const lid = () => r.digits(r.int(14, 15))
  const group = () => `120363${r.digits(12)}@g.us`
  switch (type) {
    case 'pre-key':
      return String(r.int(1, 900))
    case 'session':
    case 'identity-key':
      return r.chance(0.5) ? `${pn()}.${r.int(0, 30)}` : `${lid()}_1.${r.int(0, 30)}`
    case 'sender-key':
      return `${group()}::${r.chance(0.5) ? pn() : `${lid()}_1`}::${r.int(0, 5)}`
    case 'sender-key-memory':
      return group()
    case 'app-state-sync-key':
      // base64 key ids, with `/` and `+` in them often enough
      return r.chance(0.4) ? `AAAA${r.b64(3)}/${r.b64(3)}` : r.b64(r.int(4, 9))
    case 'app-state-sync-version':
      return r.pick(['critical_block', 'critical_unblock_low', 'regular', 'regular_high', 'regular_low'])
    case 'lid-mapping':
      return r.chance(0.5) ? pn() : `${lid()}_reverse`
    case 'device-list':
      return pn()
    case 'tctoken':
      return r.pick([() => `${pn()}@s.whatsapp.net`, () => `${lid()}@lid`, () => '__index'])()
    default:
      return r.pick([
        () => `${pn()}:${r.int(1, 9)}@s.whatsapp.net`,
        () => `${group()}::${pn()}::${r.int(0, 3)}`,
        () => `dir/${r.b64(6)}`,
        () => `${r.b64(12)}`,
        () => `${pn()}_reverse`,
        () => '__index',
        () => `ünï-cødé-${r.int(0, 99)}`,
      ])()
  }
}

/**
 * Per type, a pool of ids such that no two (type, id) pairs over every type and every id of
 * every pool map to the same oracle file: then any id can be asked of any type.
 */
function makeIdPools(r, perType = 14) {
  const files = new Set()
  const universe = []
  const pools = {}
  for (const type of ALL_TYPES) {
    pools[type] = []
    for (let attempts = 0; pools[type].length < perType && attempts < perType * 20; attempts++) {
      const id = idCandidate(r, type)
      if (universe.includes(id)) continue
      const names = ALL_TYPES.map((t) => oracleFileName(t, id))
      if (names.some((n) => files.has(n)) || new Set(names).size !== names.length) continue
      for (const n of names) files.add(n)
      universe.push(id)
      pools[type].push(id)
    }
  }
  return { pools, universe }
}

// ---- realistic values -------------------------------------------------------------------

const jidOf = (r) =>
  r.pick([
    () => `${r.digits(11)}@s.whatsapp.net`,
    () => `${r.digits(11)}:${r.int(1, 20)}@s.whatsapp.net`,
    () => `${r.digits(15)}@lid`,
    () => `${r.digits(15)}:${r.int(1, 20)}@lid`,
  ])()

const keyPair = (r) => ({ public: r.bytes(32), private: r.bytes(32) })

/** The plain object libsignal's SessionRecord.serialize() returns. */
function sessionRecord(r) {
  const sessions = {}
  for (let n = r.int(1, 2); n > 0; n--) {
    const chains = {}
    for (let c = r.int(1, 3); c > 0; c--) {
      const messageKeys = {}
      for (let k = r.int(0, 3); k > 0; k--) messageKeys[String(r.int(0, 2000))] = r.b64(32)
      chains[r.b64(33)] = {
        chainKey: { counter: r.int(-1, 5000), key: r.chance(0.9) ? r.b64(32) : undefined },
        chainType: r.int(1, 2),
        messageKeys,
      }
    }
    const entry = {
      registrationId: r.int(1, 16380),
      currentRatchet: {
        ephemeralKeyPair: { pubKey: r.b64(33), privKey: r.b64(32) },
        lastRemoteEphemeralKey: r.b64(33),
        previousCounter: r.int(0, 3000),
        rootKey: r.b64(32),
      },
      indexInfo: {
        baseKey: r.b64(33),
        baseKeyType: r.int(1, 2),
        closed: r.chance(0.8) ? -1 : 1_700_000_000_000 + r.int(0, 1e9),
        used: 1_700_000_000_000 + r.int(0, 1e9),
        created: 1_700_000_000_000 + r.int(0, 1e9),
        remoteIdentityKey: r.b64(33),
      },
      _chains: chains,
    }
    if (r.chance(0.3)) entry.pendingPreKey = { signedKeyId: r.int(1, 99), baseKey: r.b64(33), preKeyId: r.int(1, 900) }
    sessions[r.b64(33)] = entry
  }
  return { _sessions: sessions, version: 'v1' }
}

function senderKeyRecord(r) {
  const states = []
  for (let n = r.int(1, 3); n > 0; n--) {
    states.push({
      senderKeyId: r.int(0, 2 ** 31 - 1),
      senderChainKey: { iteration: r.int(0, 5000), seed: r.b64(32) },
      senderSigningKey: r.chance(0.5) ? { public: r.b64(33), private: r.b64(32) } : { public: r.b64(33) },
      senderMessageKeys: Array.from({ length: r.int(0, 4) }, () => ({ iteration: r.int(0, 5000), seed: r.b64(32) })),
    })
  }
  return Buffer.from(JSON.stringify(states))
}

function indexValueMap(r) {
  const map = {}
  for (let n = r.chance(0.1) ? r.int(150, 350) : r.int(0, 6); n > 0; n--) map[r.b64(32)] = { valueMac: r.bytes(32) }
  return map
}

/** A JSON-ish value mixing every kind of thing a future Baileys might store. */
function futureValue(r, depth = 0) {
  const scalar = () =>
    r.pick([
      () => r.int(-1e6, 1e6),
      () => r.next() * 1e6 - 5e5,
      () => r.pick([Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 60, 1e-7, 0.1]),
      () => r.chance(0.5),
      () => null,
      () => r.pick(['', 'héllo wörld', 'emoji 🌍🔑', 'line\nbreak\ttab "quoted" \\back', jidOf(r)]),
      () => r.bytes(r.int(0, 40)),
      () => new Uint8Array(r.bytes(r.int(1, 33))),
      () => r.b64(r.int(1, 40)),
    ])()
  const value = {}
  for (let n = r.int(1, 6); n > 0; n--) {
    const key = r.pick(['n', 'list', 'nested', 'buf', 'when', 'text', jidOf(r), r.b64(6), String(r.int(0, 9))])
    if (depth < 3 && r.chance(0.25)) value[key] = futureValue(r, depth + 1)
    else if (depth < 3 && r.chance(0.2)) value[key] = Array.from({ length: r.int(0, 4) }, () => (r.chance(0.3) ? futureValue(r, depth + 1) : scalar()))
    else if (r.chance(0.1)) value[key] = keyPair(r)
    else if (r.chance(0.05)) value[key] = new Date(1_700_000_000_000 + r.int(0, 1e9))
    else value[key] = scalar()
  }
  return value
}

const VALUE_OF = {
  'pre-key': keyPair,
  session: sessionRecord,
  'sender-key': senderKeyRecord,
  'sender-key-memory': (r) => Object.fromEntries(Array.from({ length: r.int(1, 6) }, () => [jidOf(r), true])),
  'app-state-sync-key': (r) =>
    proto.Message.AppStateSyncKeyData.fromObject({
      keyData: r.bytes(32),
      fingerprint: { rawId: r.int(0, 2 ** 31 - 1), currentIndex: r.int(0, 100), deviceIndexes: [0, 1, ...(r.chance(0.5) ? [r.int(2, 20)] : [])] },
      timestamp: 1_700_000_000_000 + r.int(0, 1e9),
    }),
  'app-state-sync-version': (r) => ({ version: r.int(0, 5000), hash: r.bytes(128), indexValueMap: indexValueMap(r) }),
  'lid-mapping': (r) => r.digits(r.int(10, 15)),
  'device-list': (r) => Array.from({ length: r.int(0, 5) }, () => String(r.int(0, 40))),
  tctoken: (r) => {
    const token = { token: r.bytes(r.int(16, 40)), timestamp: String(1_700_000_000 + r.int(0, 1e7)) }
    if (r.chance(0.3)) token.senderTimestamp = 1_700_000_000 + r.int(0, 1e7)
    return token
  },
  'identity-key': (r) => {
    const key = new Uint8Array(33)
    key.set(r.bytes(33))
    key[0] = 5
    return key
  },
  [FUTURE_TYPE]: futureValue,
}

/** A creds update like the ones Baileys emits with 'creds.update'. */
function credsUpdate(r) {
  return r.pick([
    () => ({ nextPreKeyId: r.int(2, 900), firstUnuploadedPreKeyId: r.int(2, 900) }),
    () => ({ me: { id: `${r.digits(11)}:${r.int(1, 20)}@s.whatsapp.net`, name: r.pick(['Bot', 'Zoë 🤖', '']), lid: `${r.digits(15)}:${r.int(1, 20)}@lid` } }),
    () => ({
      account: proto.ADVSignedDeviceIdentity.fromObject({
        details: r.bytes(40),
        accountSignatureKey: r.bytes(32),
        accountSignature: r.bytes(64),
        deviceSignature: r.bytes(64),
      }),
    }),
    () => ({ signalIdentities: [{ identifier: { name: jidOf(r), deviceId: 0 }, identifierKey: r.bytes(33) }] }),
    () => ({
      processedHistoryMessages: Array.from({ length: r.int(0, 3) }, () => ({
        key: { remoteJid: jidOf(r), fromMe: r.chance(0.5), id: r.b64(12) },
        messageTimestamp: 1_700_000_000 + r.int(0, 1e7),
      })),
    }),
    () => ({ myAppStateKeyId: r.b64(6), lastAccountSyncTimestamp: 1_700_000_000 + r.int(0, 1e7), accountSyncCounter: r.int(0, 50) }),
    () => ({ registered: r.chance(0.5), platform: r.pick(['android', 'iphone', 'smba']), routingInfo: r.bytes(r.int(4, 12)) }),
    () => ({ pairingCode: r.chance(0.5) ? 'ABCD1234' : undefined, lastPropHash: r.b64(8), additionalData: { nested: { buf: r.bytes(8) } } }),
  ])()
}

// ---- comparison -------------------------------------------------------------------------

/**
 * A canonical form for deepEqual: object keys sorted, every object tagged with its class
 * (so a plain object never equals a protobuf message), binary data tagged with its class
 * and compared by content.
 */
function canonical(value) {
  if (value === null || typeof value !== 'object') return value
  if (ArrayBuffer.isView(value)) {
    const cls = Buffer.isBuffer(value) ? 'Buffer' : value.constructor.name
    return { [`<${cls}>`]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex') }
  }
  if (Array.isArray(value)) return Array.from(value, canonical)
  const proto = Object.getPrototypeOf(value)
  const out = { '<class>': proto === null ? 'null' : proto.constructor?.name }
  for (const key of Object.keys(value).sort()) out[key] = canonical(value[key])
  return out
}

/** deepEqual of canonical forms; cheap string comparison first, ava's diff on mismatch. */
function assertSame(t, actual, expected, where) {
  const a = canonical(actual)
  const e = canonical(expected)
  if (JSON.stringify(a) === JSON.stringify(e)) return true
  t.deepEqual(a, e, where)
  return false
}

// ---- the run ----------------------------------------------------------------------------

/** A temp dir removed when the test ends, pass or fail. */
async function tempDir(t, prefix) {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Replaces the contents of a creds object in place (saveCreds of both stores keeps its object). */
function replaceContents(target, source) {
  for (const key of Object.keys(target)) delete target[key]
  Object.assign(target, source)
}

/**
 * Reads every id ever touched (and a few never touched) of every type from both stores;
 * returns how many values were found.
 */
async function compareFullRead(t, ours, oracle, touched, untouched, where) {
  let found = 0
  for (const type of ALL_TYPES) {
    const ids = [...touched[type], ...untouched]
    const [a, e] = await Promise.all([ours.keys.get(type, ids), oracle.keys.get(type, ids)])
    assertSame(t, a, e, `${where}: full read of ${type}`)
    found += Object.values(e).filter((v) => v !== null).length
  }
  return found
}

/**
 * Runs one seed's operation sequence against `ours` (from useRustAuthState) and a fresh
 * oracle, in lock step. Returns what the end-of-run checks need.
 */
async function runSeed(t, seed, ours) {
  const r = makeRandom(seed)
  const where = (i, what) => `seed ${seed}, op #${i} (${what}); replay with DIFF_SEEDS=${seed}`
  const oracleDir = await tempDir(t, 'bra-diff-oracle-')
  const oracle = await useMultiFileAuthState(oracleDir)
  const { pools, universe } = makeIdPools(r)
  const touched = Object.fromEntries(ALL_TYPES.map((type) => [type, new Set()]))
  const stats = { batches: 0, keysWritten: 0, keysDeleted: 0, gets: 0, valuesRead: 0, saves: 0 }

  // Both start from the same creds (initAuthCreds is random) and save them.
  const creds = initAuthCreds()
  replaceContents(ours.state.creds, creds)
  replaceContents(oracle.state.creds, creds)
  await Promise.all([ours.saveCreds(), oracle.saveCreds()])

  for (let i = 0; i < OPS_PER_SEED; i++) {
    const roll = r.next()
    if (roll < 0.45) {
      // A multi-type batch of writes, some of them deletes.
      const batch = {}
      for (const type of new Set(Array.from({ length: r.int(1, 3) }, () => r.pick(ALL_TYPES)))) {
        batch[type] = {}
        for (let n = r.int(1, 5); n > 0; n--) {
          const id = r.pick(pools[type])
          const del = r.chance(0.15)
          batch[type][id] = del ? (r.chance(0.8) ? null : undefined) : VALUE_OF[type](r)
          touched[type].add(id)
          stats[del ? 'keysDeleted' : 'keysWritten']++
        }
      }
      await Promise.all([ours.state.keys.set(batch), oracle.state.keys.set(batch)])
      stats.batches++
    } else if (roll < 0.53) {
      // A batch that only deletes, mostly keys that exist.
      const type = r.pick(ALL_TYPES)
      const ids = touched[type].size && r.chance(0.8) ? [...touched[type]] : pools[type]
      const batch = { [type]: Object.fromEntries(Array.from({ length: r.int(1, 4) }, () => [r.pick(ids), null])) }
      stats.keysDeleted += Object.keys(batch[type]).length
      await Promise.all([ours.state.keys.set(batch), oracle.state.keys.set(batch)])
      stats.batches++
    } else if (roll < 0.93) {
      // A read: ids of the type, ids of other types, duplicates, never-written ids, or none.
      const type = r.pick(ALL_TYPES)
      const ids = r.chance(0.05)
        ? []
        : Array.from({ length: r.int(1, 8) }, () => (r.chance(0.8) ? r.pick(pools[type]) : r.pick(universe)))
      const [a, e] = await Promise.all([ours.state.keys.get(type, ids), oracle.state.keys.get(type, ids)])
      assertSame(t, a, e, where(i, `get ${type} [${ids.join(', ')}]`))
      stats.gets++
      stats.valuesRead += Object.values(e).filter((v) => v !== null).length
    } else {
      // A creds update, saved as Baileys saves on 'creds.update'.
      const update = credsUpdate(r)
      Object.assign(ours.state.creds, update)
      Object.assign(oracle.state.creds, update)
      await Promise.all([ours.saveCreds(), oracle.saveCreds()])
      stats.saves++
    }
  }

  const untouched = universe.filter((id) => !ALL_TYPES.some((type) => touched[type].has(id))).slice(0, 3)
  stats.valuesRead += await compareFullRead(t, ours.state, oracle.state, touched, untouched, `seed ${seed}, end of run`)
  return { seed, oracleDir, touched, untouched, stats }
}

/** Reopens both stores for every seed's session and compares every key and the creds. */
async function compareReopened(t, store, runs, sessionOf, label) {
  for (const run of runs) {
    const ours = await useRustAuthState(sessionOf(run.seed), { store, baileys })
    const oracle = await useMultiFileAuthState(run.oracleDir)
    const where = `seed ${run.seed}, ${label}; replay with DIFF_SEEDS=${run.seed}`
    assertSame(t, ours.state.creds, oracle.state.creds, `${where}: creds`)
    await compareFullRead(t, ours.state, oracle.state, run.touched, run.untouched, where)
  }
}

for (const backend of BACKENDS) {
  test(`${backend.name} store answers every read like useMultiFileAuthState (seeds ${SEEDS.join(', ')})`, async (t) => {
    const url = await backend.url(await tempDir(t, 'bra-diff-'))
    const sessionOf = (seed) => `diff-${seed}@s.whatsapp.net`
    const runs = []
    let store
    try {
      // A URL for the first open: useRustAuthState opens the store itself. Every seed is its
      // own session in that one store, and the seeds run interleaved.
      const states = []
      for (const seed of SEEDS) states.push(await useRustAuthState(sessionOf(seed), { store: url, ...backend.options }))
      store = states[0].store
      t.true(states.every((s) => s.store === store), 'one URL, one shared store')
      runs.push(...(await Promise.all(SEEDS.map((seed, i) => runSeed(t, seed, states[i])))))

      const ops = runs.reduce((n, { stats: s }) => n + s.batches + s.gets + s.saves, 0)
      t.log(`${ops} operations over seeds ${SEEDS.join(', ')};`, runs.map(({ seed, stats }) => `${seed}: ${JSON.stringify(stats)}`).join('; '))
      t.true(runs.every((run) => run.stats.valuesRead > 0), 'reads found stored values')
      t.deepEqual(await store.sessions(), SEEDS.map(sessionOf).sort())
      t.deepEqual(await store.check(), [])

      if (backend.reopensFromDisk) {
        await store.close()
        store = await openStore(url, backend.options)
        await compareReopened(t, store, runs, sessionOf, 'after closing and reopening the file')
        t.deepEqual(await store.check(), [])
      } else {
        await compareReopened(t, store, runs, sessionOf, 'through a new useRustAuthState on the same store')
      }
    } finally {
      await store?.close()
    }
  })
}

for (const backend of BACKENDS) {
  test(`${backend.name} store: creds saved with saveCreds reopen exactly as useMultiFileAuthState's`, async (t) => {
    const url = await backend.url(await tempDir(t, 'bra-diff-creds-'))
    const oracleDir = await tempDir(t, 'bra-diff-creds-oracle-')
    let store = await openStore(url, backend.options)
    try {
      const ours = await useRustAuthState('creds@s.whatsapp.net', { store, baileys })
      const oracle = await useMultiFileAuthState(oracleDir)
      // initAuthCreds() plus every kind of update Baileys makes, nested Buffers and a
      // protobuf message (creds.account) included; undefined fields stay undefined.
      const r = makeRandom(SEEDS[0])
      const creds = initAuthCreds()
      for (let i = 0; i < 40; i++) Object.assign(creds, credsUpdate(r))
      creds.me = { id: '1234567890:12@s.whatsapp.net', name: 'Zoë 🤖', lid: '123456789012345:12@lid' }
      for (const state of [ours.state, oracle.state]) replaceContents(state.creds, creds)
      await Promise.all([ours.saveCreds(), oracle.saveCreds()])

      if (backend.reopensFromDisk) {
        await store.close()
        store = await openStore(url, backend.options)
      }
      const [reopened, reopenedOracle] = await Promise.all([
        useRustAuthState('creds@s.whatsapp.net', { store, baileys }),
        useMultiFileAuthState(oracleDir),
      ])
      assertSame(t, reopened.state.creds, reopenedOracle.state.creds, 'reopened creds')
      t.is(reopened.state.creds.me.name, 'Zoë 🤖')
      t.true(Buffer.isBuffer(reopened.state.creds.noiseKey.private))
    } finally {
      await store.close()
    }
  })
}

test('the id generator never produces two ids that the oracle would store in one file', (t) => {
  for (const seed of SEEDS) {
    const { pools, universe } = makeIdPools(makeRandom(seed))
    const files = new Set()
    for (const type of ALL_TYPES) for (const id of universe) files.add(oracleFileName(type, id))
    t.is(files.size, ALL_TYPES.length * universe.length, `seed ${seed}`)
    for (const type of ALL_TYPES) t.true(pools[type].length >= 5, `seed ${seed}: pool of ${type}`)
  }
})
