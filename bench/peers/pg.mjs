// The pure-JS PostgreSQL peer: a careful hand-written Baileys store on `pg` (node-postgres), as
// the 2026 community stores are written, minus their mistakes: one table keyed
// (session, type, id) (creds are the row (session, 'creds', '')), one transaction per set with
// one multi-row upsert and one multi-row delete (not a statement per key), reads with
// `id = ANY($3)`. Values are Baileys' BufferJSON text. A pool of 4 connections, like ours, so
// that sessions writing at once commit at once. The server is the machine's (lib/sql.mjs); the
// table is the child's own, which the runner drops.
import pg from 'pg'

import { fromJSON, toJSON } from '../lib/baileys.mjs'
import { namespaceOf, POSTGRES_URL } from '../lib/sql.mjs'

export async function open({ keyPrefix, baileys }) {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 })
  const namespace = namespaceOf(keyPrefix)
  const table = `"bench_peer_${namespace}"`
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (
    session text NOT NULL, type text NOT NULL, id text NOT NULL, value text NOT NULL,
    PRIMARY KEY (session, type, id))`)
  const AppStateSyncKeyData = baileys.proto.Message.AppStateSyncKeyData
  const upsert = (client, session, rows) =>
    client.query(
      `INSERT INTO ${table} (session, type, id, value) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])
       ON CONFLICT (session, type, id) DO UPDATE SET value = excluded.value`,
      [session, rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2])],
    )

  return {
    async use(session) {
      const saved = await pool.query(`SELECT value FROM ${table} WHERE session = $1 AND type = 'creds' AND id = ''`, [session])
      const state = {
        creds: saved.rows.length === 0 ? baileys.initAuthCreds() : fromJSON(saved.rows[0].value),
        keys: {
          async get(type, ids) {
            const out = {}
            if (ids.length === 0) return out
            const found = await pool.query(`SELECT id, value FROM ${table} WHERE session = $1 AND type = $2 AND id = ANY($3)`, [session, type, ids])
            const byId = new Map(found.rows.map((r) => [r.id, r.value]))
            for (const id of ids) {
              const text = byId.get(id)
              let value = text === undefined ? null : fromJSON(text)
              if (type === 'app-state-sync-key' && value) value = AppStateSyncKeyData.fromObject(value)
              out[id] = value
            }
            return out
          },
          async set(data) {
            const upserts = []
            const deletes = []
            for (const type in data) {
              for (const id in data[type]) {
                const value = data[type][id]
                if (value === null || value === undefined) deletes.push([type, id])
                else upserts.push([type, id, toJSON(value)])
              }
            }
            // One transaction per set: all of a Baileys commit or none of it.
            const client = await pool.connect()
            try {
              await client.query('BEGIN')
              if (deletes.length) {
                await client.query(
                  `DELETE FROM ${table} WHERE session = $1 AND (type, id) IN (SELECT * FROM unnest($2::text[], $3::text[]))`,
                  [session, deletes.map((d) => d[0]), deletes.map((d) => d[1])],
                )
              }
              if (upserts.length) await upsert(client, session, upserts)
              await client.query('COMMIT')
            } catch (err) {
              await client.query('ROLLBACK').catch(() => {})
              throw err
            } finally {
              client.release()
            }
          },
        },
      }
      const saveCreds = async () => {
        await upsert(pool, session, [['creds', '', toJSON(state.creds)]])
      }
      return { state, saveCreds, close: async () => {} }
    },
    close: async () => {
      await pool.end()
    },
  }
}
