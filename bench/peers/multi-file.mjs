// Baileys' own useMultiFileAuthState, unchanged: one folder per session, one JSON file per key.
// What most bots run today (and what Baileys says not to use in production): no fsync, no
// atomicity across files.
import { join } from 'node:path'

export async function open({ dir, baileys }) {
  return {
    async use(session) {
      const { state, saveCreds } = await baileys.useMultiFileAuthState(join(dir, session))
      return { state, saveCreds, close: async () => {} }
    },
    close: async () => {},
  }
}
