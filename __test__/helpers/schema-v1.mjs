// The database version 1 of the schema wrote (commit 746e178), rebuilt from its SQL dump
// tests/fixtures/schema-v1.sql (the Rust migration tests build it from the same dump) by
// Python's sqlite3 module: Node 20 has no SQLite of its own, and the addon cannot write an old
// schema. Sessions alice and bob with creds and keys, and a session deleted by the sqlite3 shell
// without foreign keys, whose two keys were left behind.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const DUMP = fileURLToPath(new URL('../../tests/fixtures/schema-v1.sql', import.meta.url))
const WRITE = 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA journal_mode=WAL"); c.executescript(open(sys.argv[2]).read()); c.close()'

/**
 * Writes the version 1 database at `path`. Returns false (the test is skipped) where python3
 * with sqlite3 is missing; in CI that fails the test instead, since .ci/run installs it.
 */
export function writeSchemaV1Fixture(t, path) {
  const run = spawnSync('python3', ['-c', WRITE, path, DUMP], { encoding: 'utf8' })
  if (run.error || run.status !== 0) {
    const why = run.error?.message ?? run.stderr
    if (process.env.CI === 'true') throw new Error(`cannot write the schema v1 database with python3 (.ci/run installs it): ${why}`)
    t.log(`python3 with sqlite3 cannot write the schema v1 database here (${why.trim()}): skipping (in CI this fails)`)
    return false
  }
  return true
}
