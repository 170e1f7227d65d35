// The packaging smoke test's checks, shared by esm.mjs, cjs.cjs and ts.mts (each loads the
// installed package its own way and hands its API here). It runs in an app folder that
// scripts/release-smoke.mjs made by installing the release tarballs.
import assert from 'node:assert/strict'
import { BufferJSON, proto } from 'baileys'

/** One key of every type Baileys stores, shaped as Baileys writes them. */
function keysOfEachType(flavor) {
  const bytes = (n, seed) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff))
  const identity = bytes(33, 7)
  identity[0] = 5
  return {
    'pre-key': { 1: { public: bytes(32, 1), private: bytes(32, 2) } },
    session: { '15550001111.0': bytes(420, 3) },
    'sender-key': { '120363000000000001@g.us::15550001111::0': bytes(180, 4) },
    'sender-key-memory': { '120363000000000001@g.us': { '15550001111:1@s.whatsapp.net': true } },
    'app-state-sync-key': {
      'AAAAAKyo/Z': proto.Message.AppStateSyncKeyData.fromObject({
        keyData: bytes(32, 5),
        fingerprint: { rawId: 12345, currentIndex: 2, deviceIndexes: [0, 1] },
        timestamp: 1_700_000_000_000,
      }),
    },
    'app-state-sync-version': { regular_high: { version: 42, hash: bytes(128, 6), indexValueMap: { abc: { valueMac: bytes(32, 8) } } } },
    'lid-mapping': { '15550001111': '123456789012345', '123456789012345_reverse': '15550001111' },
    'device-list': { '15550001111': ['0', '1', '23'] },
    tctoken: { '15550001111@s.whatsapp.net': { token: bytes(24, 9), timestamp: '1700000000' } },
    'identity-key': { [`15550001111.${flavor.length}`]: identity },
  }
}

/** A value as Baileys' own file store would write it: equal text means equal values. */
const text = (value) => JSON.stringify(value, BufferJSON.replacer)

async function readBack(state, keys) {
  for (const [type, byId] of Object.entries(keys)) {
    const got = await state.keys.get(type, [...Object.keys(byId), 'absent-id'])
    assert.equal(got['absent-id'], null, `${type}: a missing id maps to null`)
    delete got['absent-id']
    assert.equal(text(got), text(byId), `${type} reads back as it was set`)
  }
}

/** Sets and reads a key of each type and the creds in the default store, then again after a reopen. */
export async function smoke({ useRustAuthState, openStore }, flavor) {
  const session = `smoke-${flavor}`
  const keys = keysOfEachType(flavor)

  // The default store: BAILEYS_AUTH_STORE is unset, so this is ./baileys-auth.db here.
  const store = await openStore()
  const { state, saveCreds } = await useRustAuthState(session, { store })
  await state.keys.set(keys)
  await readBack(state, keys)
  state.creds.me = { id: '15550001111:1@s.whatsapp.net', name: session }
  await saveCreds()
  const creds = text(state.creds)
  await store.close()

  const reopened = await openStore()
  const again = await useRustAuthState(session, { store: reopened })
  assert.equal(text(again.state.creds), creds, 'creds read back after the reopen')
  await readBack(again.state, keys)
  assert.ok((await reopened.sessions()).includes(session))
  await reopened.close()
  console.log(`smoke ${flavor}: ok: creds and ${Object.keys(keys).length} key types (${Object.keys(keys).join(', ')}) read back after a reopen`)
}
