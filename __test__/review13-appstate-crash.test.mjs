// Review of issue 13: SIGKILL while many owners write app-state versions incrementally (header
// and changed pieces in one batch, batches of several sessions sharing commits) never leaves a
// torn version: after the crash every session's version decodes to exactly one state of its
// chain, at or after the last acknowledged one; and a new owner continues it correctly.
import test from 'ava'
import { spawn } from 'node:child_process'
import { isDeepStrictEqual } from 'node:util'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

import { openStore, useRustAuthState } from '../index.mjs'
import { chain, sessionName, VERSION_ID } from './fixtures/review13-appstate-writer.mjs'
import { tempDir } from './helpers/temp.mjs'

const WRITER = fileURLToPath(new URL('./fixtures/review13-appstate-writer.mjs', import.meta.url))
const TYPE = 'app-state-sync-version'
const SESSIONS = 6
const TRIALS = 4

/** Runs the writer until `acks` acknowledgements arrived in all, then SIGKILLs it: the last ack per session. */
function runWriter(db, acks) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, db, String(SESSIONS), '3'], { stdio: ['ignore', 'pipe', 'inherit'] })
    const lastAck = new Array(SESSIONS).fill(-1)
    let seen = 0
    let killed = false
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [what, s, k] = line.split(' ')
      if (what === 'error') return reject(new Error(line))
      if (what !== 'ack') return
      lastAck[Number(s)] = Math.max(lastAck[Number(s)], Number(k))
      if (++seen >= acks && !killed) {
        killed = true
        child.kill('SIGKILL')
      }
    })
    child.on('exit', () => (killed ? resolve(lastAck) : reject(new Error('the writer exited on its own'))))
  })
}

test('SIGKILL during grouped incremental app-state writes leaves every version whole: a state of its chain, none before the last acknowledged', async (t) => {
  const dir = tempDir()
  for (let trial = 0; trial < TRIALS; trial++) {
    const db = join(dir, `trial-${trial}.db`)
    const lastAck = await runWriter(db, 150 + trial * 137)
    const store = await openStore(`sqlite:${db}`)
    try {
      t.deepEqual(await store.check(), [])
      for (let s = 0; s < SESSIONS; s++) {
        const got = (await store.getKeys(sessionName(s), TYPE, [VERSION_ID]))[VERSION_ID]
        if (lastAck[s] < 0 && got === null) continue
        t.truthy(got, `trial ${trial} session ${s}: acknowledged up to ${lastAck[s]}, nothing stored`)
        t.true(got.version >= lastAck[s], `trial ${trial} session ${s}: state ${got.version} stored, ${lastAck[s]} acknowledged`)
        const next = chain(s)
        let want
        do want = next()
        while (want.version < got.version)
        t.true(isDeepStrictEqual(got, want), `trial ${trial} session ${s}: state ${got.version} is torn or wrong`)
      }
    } finally {
      await store.close()
    }
    // A new owner reads the crashed owner's last state and continues it incrementally.
    const handle = await useRustAuthState(sessionName(0), { store: `sqlite:${db}`, takeover: true })
    const current = (await handle.state.keys.get(TYPE, [VERSION_ID]))[VERSION_ID]
    if (current) {
      const more = { ...current, version: current.version + 1, indexValueMap: { ...current.indexValueMap, extra: { valueMac: Buffer.alloc(32, 1) } } }
      await handle.state.keys.set({ [TYPE]: { [VERSION_ID]: more } })
      const other = await openStore(`sqlite:${db}`)
      t.deepEqual((await other.getKeys(sessionName(0), TYPE, [VERSION_ID]))[VERSION_ID], more)
      await other.close()
    }
    await handle.close()
    t.log(`trial ${trial}: last acks ${lastAck.join(' ')}`)
  }
})
