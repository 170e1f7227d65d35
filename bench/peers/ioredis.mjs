// The pure-JS Redis peer: a good hand-written Baileys store on ioredis, one connection shared
// by all sessions. A session's creds are one string key, its keys one hash per type
// (`<prefix>:<session>:<type>`), read with one HMGET per get and written with one MULTI/EXEC
// per set (atomic across types, like ours). Values are BufferJSON text.
import { Redis } from 'ioredis'

import { fromJSON, toJSON } from '../lib/baileys.mjs'

export async function open({ redisUrl, keyPrefix, baileys }) {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await redis.connect()
  const AppStateSyncKeyData = baileys.proto.Message.AppStateSyncKeyData

  return {
    async use(session) {
      const base = `${keyPrefix}:${session}`
      const saved = await redis.get(`${base}:creds`)
      const state = {
        creds: saved === null ? baileys.initAuthCreds() : fromJSON(saved),
        keys: {
          async get(type, ids) {
            const out = {}
            if (ids.length === 0) return out
            const texts = await redis.hmget(`${base}:${type}`, ...ids)
            for (let i = 0; i < ids.length; i++) {
              let value = texts[i] === null ? null : fromJSON(texts[i])
              if (type === 'app-state-sync-key' && value) value = AppStateSyncKeyData.fromObject(value)
              out[ids[i]] = value
            }
            return out
          },
          async set(data) {
            const multi = redis.multi()
            for (const type in data) {
              const upserts = []
              const deletes = []
              for (const id in data[type]) {
                const value = data[type][id]
                if (value === null || value === undefined) deletes.push(id)
                else upserts.push(id, toJSON(value))
              }
              if (upserts.length) multi.hset(`${base}:${type}`, ...upserts)
              if (deletes.length) multi.hdel(`${base}:${type}`, ...deletes)
            }
            const results = await multi.exec()
            for (const [err] of results ?? []) if (err) throw err
          },
        },
      }
      const saveCreds = async () => {
        await redis.set(`${base}:creds`, toJSON(state.creds))
      }
      return { state, saveCreds, close: async () => {} }
    },
    close: async () => {
      await redis.quit()
    },
  }
}
