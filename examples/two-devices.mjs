// Two simulated WhatsApp devices talk through useRustAuthState on the embedded SQLite
// store, with real Baileys Signal encryption. Then the process restarts (a new process
// opens the same database file) and they keep talking: everything they need (identities,
// sessions, sender keys) came back from disk.
//
//   npm run example
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { useRustAuthState } from 'baileys-rust-auth'
import { makeDevice, sendDirect, sendGroup, startSession } from './lib/simulated-devices.mjs'

const baileys = await import('baileys')
const here = dirname(fileURLToPath(import.meta.url))
const dbFile = join(here, '.data', 'two-devices.db')
const store = `sqlite:${dbFile}`
const resumed = process.argv.includes('--resumed')
const GROUP = '120363000000000001@g.us'

const log = (line) => console.log(`${resumed ? '[process 2]' : '[process 1]'} ${line}`)

async function open(name, jid, lid) {
  // The one line an application writes: everything else here simulates WhatsApp.
  const auth = await useRustAuthState(name, { store })
  return makeDevice(baileys, auth, { jid, lid })
}

if (!resumed) {
  rmSync(dirname(dbFile), { recursive: true, force: true })
  mkdirSync(dirname(dbFile), { recursive: true })
}

const alice = await open('alice', '15550000001@s.whatsapp.net', '90000000001@lid')
const bob = await open('bob', '15550000002@s.whatsapp.net', '90000000002@lid')
log(`alice and bob loaded from ${store} (identity of alice: ${Buffer.from(alice.auth.state.creds.signedIdentityKey.public).toString('hex').slice(0, 16)}…)`)

if (!resumed) {
  await startSession(alice, bob)
  const { type } = await sendDirect(alice, bob, 'Hi Bob!')
  log(`alice → bob: "Hi Bob!" (${type}: a pre-key message starts the Signal session)`)
}

let count = 0
const started = performance.now()
for (let i = 0; i < 100; i++) {
  const [from, to, name] = i % 2 === 0 ? [bob, alice, 'bob → alice'] : [alice, bob, 'alice → bob']
  await sendDirect(from, to, `message ${i}`)
  count++
  if (i === 0) log(`${name}: "message 0" decrypted`)
}
log(`${count} messages encrypted, stored and decrypted in ${(performance.now() - started).toFixed(0)} ms`)

const { skdmTo } = await sendGroup(alice, [bob], GROUP, 'Hello group')
log(`alice → group: decrypted by bob (${skdmTo.length ? 'sender key distributed now' : 'sender key loaded from disk'})`)
const reply = await sendGroup(bob, [alice], GROUP, 'Hello from bob')
log(`bob → group: decrypted by alice (${reply.skdmTo.length ? 'sender key distributed now' : 'sender key loaded from disk'})`)

const sessions = await alice.auth.store.sessions()
log(`sessions in the store: ${sessions.join(', ')}`)
// Each session releases the shared store; the last one closes it.
await alice.auth.close()
await bob.auth.close()

if (!resumed) {
  log('exiting; starting a new process on the same database…')
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--resumed'], { stdio: 'inherit' })
  process.exitCode = child.status ?? 1
} else {
  log('the conversation survived the restart.')
}
