// Temporary directories for tests, removed when the test process exits.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const made = []
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
})

/** A new empty directory. */
export function tempDir(prefix = 'bra-test-') {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}

/** A `sqlite:` URL of a database file that does not exist yet, and its path. */
export function tempDb(name = 'auth.db') {
  const path = join(tempDir(), name)
  return { path, url: `sqlite:${path}` }
}
