// Small useMultiFileAuthState folders written by hand, for import tests.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { tempDir } from './temp.mjs'

export const CREDS = { me: { id: '1@s.whatsapp.net' } }

/** A folder as useMultiFileAuthState writes it: creds.json and `files` (name -> value, or text as it is). */
export function folderWith(files) {
  const folder = join(tempDir(), 'auth')
  mkdirSync(folder)
  writeFileSync(join(folder, 'creds.json'), JSON.stringify(CREDS))
  for (const [name, value] of Object.entries(files)) writeFileSync(join(folder, name), typeof value === 'string' ? value : JSON.stringify(value))
  return folder
}
