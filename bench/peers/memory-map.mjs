// The ceiling: a plain Map per session that keeps the very objects it is given (no copy, no
// serialisation, no structuredClone), like Baileys' own in-memory cache with useClones: false.
// Nothing persists; it measures what Baileys' crypto costs with a store that costs ~nothing.
export async function open({ baileys }) {
  return {
    async use() {
      const map = new Map() // `${type}\u0000${id}` -> value
      const state = {
        creds: baileys.initAuthCreds(),
        keys: {
          async get(type, ids) {
            const out = {}
            for (const id of ids) out[id] = map.get(`${type}\u0000${id}`) ?? null
            return out
          },
          async set(data) {
            for (const type in data) {
              for (const id in data[type]) {
                const value = data[type][id]
                if (value === null || value === undefined) map.delete(`${type}\u0000${id}`)
                else map.set(`${type}\u0000${id}`, value)
              }
            }
          },
        },
      }
      return { state, saveCreds: async () => {}, close: async () => {} }
    },
    close: async () => {},
  }
}
