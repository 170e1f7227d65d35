// Cheap, realistic per-session creds for coldstart (kept apart from fixtures.mjs so that the
// runner can read workload metadata without loading Baileys).
import { randomBytes, randomInt } from 'node:crypto'

/**
 * Creds shaped exactly like `template` (same fields and sizes) with every byte string
 * replaced by random bytes: realistic per-session creds without paying for initAuthCreds.
 */
export function lookalikeCreds(template, jid) {
  const clone = (v) => {
    if (v instanceof Uint8Array) return randomBytes(v.length)
    if (Array.isArray(v)) return v.map(clone)
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]))
    return v
  }
  const creds = clone(template)
  creds.registrationId = randomInt(1, 16380)
  creds.advSecretKey = randomBytes(32).toString('base64')
  creds.me = { id: jid }
  return creds
}
