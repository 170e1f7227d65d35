// Proof of drop-in: real Baileys Signal sessions and sender keys, on our store.
import test from 'ava'

import { openStore, useRustAuthState } from '../index.mjs'
import { makeDevice, sendDirect, sendGroup, startSession } from '../examples/lib/simulated-devices.mjs'
import { DURABLE_BACKENDS } from './helpers/backends.mjs'
import { stopAll } from './helpers/redis-server.mjs'

const baileys = await import('baileys')

// Every test gets phone numbers, LIDs and a group of its own. libsignal serializes work per
// address in one process-wide queue, and a job queued behind another test's runs in that
// test's async context, outside its own Baileys transaction: two accounts of one process
// talking to the same address at the same moment corrupt each other's sessions. Real
// deployments never share an identity between accounts; concurrent tests must not either.
let nextIdentity = 0
function identities() {
  const n = String(++nextIdentity).padStart(4, '0')
  return {
    ALICE: { jid: `1555${n}0001@s.whatsapp.net`, lid: `9000${n}0001@lid` },
    BOB: { jid: `1555${n}0002@s.whatsapp.net`, lid: `9000${n}0002@lid` },
    GROUP: `12036300${n}0001@g.us`,
  }
}

test.after.always(stopAll)

/** Both devices, each a session of the same store. */
async function devices(store, { ALICE, BOB }) {
  const alice = await makeDevice(baileys, await useRustAuthState('alice', { store, baileys }), ALICE)
  const bob = await makeDevice(baileys, await useRustAuthState('bob', { store, baileys }), BOB)
  return { alice, bob }
}

/** `count` messages alternating direction, `first` sending first; every one a plain `msg`. */
async function converse(t, first, second, count) {
  for (let i = 0; i < count; i++) {
    const [from, to] = i % 2 === 0 ? [first, second] : [second, first]
    const { type } = await sendDirect(from, to, `message ${i} from ${from.jid}`)
    t.is(type, 'msg')
  }
}

for (const backend of DURABLE_BACKENDS) {
  test(`${backend.name}: two devices exchange 200 real Signal messages and group messages, then keep decrypting after the store is reopened`, async (t) => {
    const ids = identities()
    const { ALICE, BOB, GROUP } = ids
    const url = await backend.url()
    let store = await openStore(url, backend.options)
    let { alice, bob } = await devices(store, ids)

    await startSession(alice, bob)
    t.is((await sendDirect(alice, bob, 'first message')).type, 'pkmsg')
    // Bob answers first: Alice keeps sending pkmsg until she hears back, as in Signal.
    await converse(t, bob, alice, 200)

    const firstSkdm = await sendGroup(alice, [bob], GROUP, 'group hello from alice')
    t.deepEqual(firstSkdm.skdmTo, [BOB.lid])
    const bobFirst = await sendGroup(bob, [alice], GROUP, 'group hello from bob')
    t.deepEqual(bobFirst.skdmTo, [ALICE.lid])
    for (let i = 0; i < 10; i++) {
      t.deepEqual((await sendGroup(alice, [bob], GROUP, `alice group ${i}`)).skdmTo, [])
      t.deepEqual((await sendGroup(bob, [alice], GROUP, `bob group ${i}`)).skdmTo, [])
    }

    const identity = Buffer.from(alice.auth.state.creds.signedIdentityKey.public)
    await store.close()

    // A new process would see only what was stored: open the store again.
    store = await openStore(url, backend.options)
    ;({ alice, bob } = await devices(store, ids))
    t.deepEqual(Buffer.from(alice.auth.state.creds.signedIdentityKey.public), identity)
    await converse(t, alice, bob, 20)
    for (let i = 0; i < 5; i++) {
      // The sender keys and sender-key-memory came from disk: no distribution message again.
      t.deepEqual((await sendGroup(alice, [bob], GROUP, `after restart ${i}`)).skdmTo, [])
      t.deepEqual((await sendGroup(bob, [alice], GROUP, `after restart ${i}`)).skdmTo, [])
    }

    t.deepEqual(await store.sessions(), ['alice', 'bob'])
    t.deepEqual(await store.check(), [])
    t.deepEqual([...alice.logs, ...bob.logs], [], 'Baileys logged no warning or error')
    await store.close()
  })

  test(`${backend.name}: the shared store of a URL carries a conversation across useRustAuthState calls`, async (t) => {
    const { ALICE, BOB } = identities()
    const url = await backend.url()
    let alice = await makeDevice(baileys, await useRustAuthState('alice', { store: url, baileys, ...backend.options }), ALICE)
    let bob = await makeDevice(baileys, await useRustAuthState('bob', { store: url, baileys, ...backend.options }), BOB)
    t.is(alice.auth.store, bob.auth.store, 'one store per URL')
    await startSession(bob, alice)
    t.is((await sendDirect(bob, alice, 'hi')).type, 'pkmsg')
    await converse(t, alice, bob, 20)
    await alice.auth.store.close()

    alice = await makeDevice(baileys, await useRustAuthState('alice', { store: url, baileys, ...backend.options }), ALICE)
    bob = await makeDevice(baileys, await useRustAuthState('bob', { store: url, baileys, ...backend.options }), BOB)
    await converse(t, alice, bob, 20)
    await alice.auth.store.close()
  })
}
