// useMultiFileAuthState folders written by real Baileys, for the migration tests: two devices
// talk (1:1 and in a group, so there are sessions, pre-keys, sender keys with `::` in their
// ids, sender-key memory and LID mappings), and Alice's folder also gets the key types a
// live socket writes (app-state sync keys with `/` in their ids, an app-state version,
// device lists, tctokens with their `__index` entry, an identity key).
import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { makeDevice, sendDirect, sendGroup, startSession } from '../../examples/lib/simulated-devices.mjs'

const baileys = await import('baileys')

// Each call gets identities of its own: libsignal queues work per address process-wide,
// so concurrent tests must never share one (see baileys.test.mjs).
let next = 0
export function identities() {
  const n = String(++next).padStart(3, '0') + String(process.pid % 1000).padStart(3, '0')
  return {
    ALICE: { jid: `1666${n}01@s.whatsapp.net`, lid: `8800${n}01@lid` },
    BOB: { jid: `1666${n}02@s.whatsapp.net`, lid: `8800${n}02@lid` },
    GROUP: `120363${n}0001@g.us`,
    // An old-style group id, with a '-' that is not Baileys' mangling.
    OLD_GROUP: `1666${n}01-1600000000@g.us`,
  }
}

/** An app-state sync key id: base64 of 6 bytes chosen so that it holds '/' and '+'. */
export const APP_STATE_KEY_ID = Buffer.from([0xfb, 0xff, 0xbf, 0x01, 0x02, 0x03]).toString('base64')

/**
 * Alice and Bob as Baileys devices over any auth states; `auth(name)` returns
 * `{ state, saveCreds }`. `preKeyCount` pre-keys each.
 */
export async function openDevices(ids, auth, preKeyCount = 30) {
  const alice = await makeDevice(baileys, await auth('alice'), { ...ids.ALICE, preKeyCount })
  const bob = await makeDevice(baileys, await auth('bob'), { ...ids.BOB, preKeyCount })
  return { alice, bob }
}

/** `count` messages alternating direction; each must decrypt as a plain `msg`. */
export async function converse(t, first, second, count, label = 'message') {
  for (let i = 0; i < count; i++) {
    const [from, to] = i % 2 === 0 ? [first, second] : [second, first]
    const { type } = await sendDirect(from, to, `${label} ${i} from ${from.jid}`)
    t.is(type, 'msg')
  }
}

/**
 * Writes Alice's and Bob's folders under `dir` (`dir/alice`, `dir/bob`) with a real exchange.
 * Resolves to the ids used.
 */
export async function makeBaileysFolders(t, dir, { preKeyCount = 30, extraPreKeys = 0 } = {}) {
  const ids = identities()
  const { alice, bob } = await openDevices(ids, (name) => baileys.useMultiFileAuthState(join(dir, name)), preKeyCount)
  await startSession(alice, bob)
  t.is((await sendDirect(alice, bob, 'first')).type, 'pkmsg')
  await converse(t, bob, alice, 10)
  t.deepEqual((await sendGroup(alice, [bob], ids.GROUP, 'group from alice')).skdmTo, [ids.BOB.lid])
  t.deepEqual((await sendGroup(bob, [alice], ids.GROUP, 'group from bob')).skdmTo, [ids.ALICE.lid])
  await sendGroup(alice, [bob], ids.OLD_GROUP, 'old-style group from alice')

  // What a connected socket adds, in the shapes Baileys writes them.
  const keyData = baileys.proto.Message.AppStateSyncKeyData.fromObject({
    keyData: randomBytes(32),
    fingerprint: { rawId: 7, currentIndex: 1, deviceIndexes: [0, 1] },
    timestamp: 1700000000,
  })
  const tokenIndex = Buffer.from(JSON.stringify([ids.BOB.lid]))
  await alice.auth.state.keys.set({
    'app-state-sync-key': { [APP_STATE_KEY_ID]: keyData },
    'app-state-sync-version': {
      regular_high: { version: 12, hash: randomBytes(128), indexValueMap: { [randomBytes(32).toString('base64')]: { valueMac: randomBytes(32) } } },
    },
    'device-list': { [ids.BOB.jid.split('@')[0]]: ['0', '1'] },
    tctoken: { [ids.BOB.lid]: { token: randomBytes(24), timestamp: '1700000000' }, __index: { token: tokenIndex } },
    'identity-key': { [`${ids.BOB.lid.split('@')[0]}_1.0`]: randomBytes(33) },
  })
  if (extraPreKeys > 0) {
    const preKeys = {}
    for (let i = 0; i < extraPreKeys; i++) preKeys[10000 + i] = { public: randomBytes(32), private: randomBytes(32) }
    await alice.auth.state.keys.set({ 'pre-key': preKeys })
  }
  return ids
}

/** A digest of every file of a folder (names and bytes), to show that it was not modified. */
export function folderDigest(folder) {
  const hash = createHash('sha256')
  for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    hash.update(entry.name)
    hash.update(entry.isFile() ? readFileSync(join(folder, entry.name)) : `<${entry.isDirectory() ? 'folder' : 'other'}>`)
  }
  return hash.digest('hex')
}

/**
 * Rewrites a folder as Baileys 6.7-era stores left it: every Buffer as
 * `{type: 'Buffer', data: [numbers]}` instead of base64.
 */
export function rewriteAs67(folder) {
  const toNumbers = (_key, value) =>
    value && typeof value === 'object' && value.type === 'Buffer' && typeof value.data === 'string'
      ? { type: 'Buffer', data: [...Buffer.from(value.data, 'base64')] }
      : value
  for (const name of readdirSync(folder)) {
    const file = join(folder, name)
    writeFileSync(file, JSON.stringify(JSON.parse(readFileSync(file, 'utf8'), toNumbers)))
  }
}

export { baileys }
