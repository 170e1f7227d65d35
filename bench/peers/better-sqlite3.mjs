// The pure-JS SQLite peer: how a careful hand-written Baileys store on better-sqlite3 looks.
// One table keyed (session, type, id); creds are the row (session, 'creds', ''). Values are
// Baileys' BufferJSON text, as every community store writes them. WAL, and synchronous=FULL by
// default so that a resolved set is as durable as ours (options.synchronous='NORMAL' gives the
// faster, less durable variant: a power loss may drop the last commits).
// better-sqlite3 is synchronous: each call blocks the event loop for its disk work (that cost
// shows up in the event-loop delay columns; it is what users of such a store get).
import { join } from 'node:path'

import Database from 'better-sqlite3'

import { fromJSON, toJSON } from '../lib/baileys.mjs'

export async function open({ dir, baileys, options }) {
  const db = new Database(join(dir, 'auth.db'))
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`)
  db.exec(`CREATE TABLE IF NOT EXISTS auth (
    session TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (session, type, id)
  ) WITHOUT ROWID`)
  const select = db.prepare('SELECT value FROM auth WHERE session = ? AND type = ? AND id = ?').pluck()
  const upsert = db.prepare(
    'INSERT INTO auth (session, type, id, value) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value',
  )
  const remove = db.prepare('DELETE FROM auth WHERE session = ? AND type = ? AND id = ?')
  // One transaction per set: all of a Baileys commit or none of it.
  const writeBatch = db.transaction((session, data) => {
    for (const type in data) {
      for (const id in data[type]) {
        const value = data[type][id]
        if (value === null || value === undefined) remove.run(session, type, id)
        else upsert.run(session, type, id, toJSON(value))
      }
    }
  })
  const AppStateSyncKeyData = baileys.proto.Message.AppStateSyncKeyData

  return {
    async use(session) {
      const saved = select.get(session, 'creds', '')
      const state = {
        creds: saved === undefined ? baileys.initAuthCreds() : fromJSON(saved),
        keys: {
          async get(type, ids) {
            const out = {}
            for (const id of ids) {
              const text = select.get(session, type, id)
              let value = text === undefined ? null : fromJSON(text)
              if (type === 'app-state-sync-key' && value) value = AppStateSyncKeyData.fromObject(value)
              out[id] = value
            }
            return out
          },
          async set(data) {
            writeBatch(session, data)
          },
        },
      }
      const saveCreds = async () => {
        upsert.run(session, 'creds', '', toJSON(state.creds))
      }
      return { state, saveCreds, close: async () => {} }
    },
    close: async () => db.close(),
  }
}
