// The pure-JS MySQL peer: a careful hand-written Baileys store on `mysql2`: one InnoDB table
// keyed (session, type, id) (creds are the row (session, 'creds', '')), one transaction per set
// with one multi-row `INSERT … ON DUPLICATE KEY UPDATE` and one multi-row delete (not a statement
// per key), reads with `id IN (…)`. Values are Baileys' BufferJSON text. A pool of 4 connections,
// like ours. The server is the machine's (lib/sql.mjs); the table is the child's own, which the
// runner drops.
import mysql from 'mysql2/promise'

import { fromJSON, toJSON } from '../lib/baileys.mjs'
import { MYSQL_URL, namespaceOf } from '../lib/sql.mjs'

/** Rows per statement: under MySQL's 65,535 placeholders and a 16 MiB packet. */
const CHUNK = 500

export async function open({ keyPrefix, baileys }) {
  const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 4 })
  const namespace = namespaceOf(keyPrefix)
  const table = `\`bench_peer_${namespace}\``
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (
    session VARCHAR(255) NOT NULL, type VARCHAR(64) NOT NULL, id VARCHAR(255) NOT NULL, value LONGTEXT NOT NULL,
    PRIMARY KEY (session, type, id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`)
  const AppStateSyncKeyData = baileys.proto.Message.AppStateSyncKeyData
  const upsert = async (conn, session, rows) => {
    for (let i = 0; i < rows.length; i += CHUNK) {
      const chunk = rows.slice(i, i + CHUNK)
      await conn.query(
        `INSERT INTO ${table} (session, type, id, value) VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}
         ON DUPLICATE KEY UPDATE value = VALUES(value)`,
        chunk.flatMap(([type, id, value]) => [session, type, id, value]),
      )
    }
  }

  return {
    async use(session) {
      const [saved] = await pool.query(`SELECT value FROM ${table} WHERE session = ? AND type = 'creds' AND id = ''`, [session])
      const state = {
        creds: saved.length === 0 ? baileys.initAuthCreds() : fromJSON(saved[0].value),
        keys: {
          async get(type, ids) {
            const out = {}
            if (ids.length === 0) return out
            const byId = new Map()
            for (let i = 0; i < ids.length; i += CHUNK) {
              const chunk = ids.slice(i, i + CHUNK)
              const [found] = await pool.query(
                `SELECT id, value FROM ${table} WHERE session = ? AND type = ? AND id IN (${chunk.map(() => '?').join(', ')})`,
                [session, type, ...chunk],
              )
              for (const r of found) byId.set(r.id, r.value)
            }
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
            const conn = await pool.getConnection()
            try {
              await conn.beginTransaction()
              for (let i = 0; i < deletes.length; i += CHUNK) {
                const chunk = deletes.slice(i, i + CHUNK)
                await conn.query(
                  `DELETE FROM ${table} WHERE session = ? AND (type, id) IN (${chunk.map(() => '(?, ?)').join(', ')})`,
                  [session, ...chunk.flat()],
                )
              }
              await upsert(conn, session, upserts)
              await conn.commit()
            } catch (err) {
              await conn.rollback().catch(() => {})
              throw err
            } finally {
              conn.release()
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
