// Run as a child process: `node import-measured.mjs FOLDER STORE_URL` imports FOLDER as
// session `s` and prints one JSON line, `{ result }` or `{ error: { code, message } }`, with
// `maxRssBytes`, the process's peak resident memory.
import { importFolder } from '../../index.mjs'

const [folder, store] = process.argv.slice(2)
let outcome
try {
  outcome = { result: await importFolder(folder, { session: 's', store }) }
} catch (err) {
  outcome = { error: { code: err.code, message: err.message } }
}
// maxRSS is in kibibytes.
process.stdout.write(`${JSON.stringify({ ...outcome, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`)
