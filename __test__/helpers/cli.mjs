// Running the operator CLI as a user runs it (`node bin/baileys-rust-auth.js …` is what
// `npx baileys-rust-auth` starts).
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const CLI = fileURLToPath(new URL('../../bin/baileys-rust-auth.js', import.meta.url))

/** Runs the CLI; resolves to { code, stdout, stderr } (never rejects on a failing exit). */
export function cli(args, { env = {}, cwd } = {}) {
  const { BAILEYS_AUTH_STORE, ...inherited } = process.env
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...inherited, ...env }, cwd }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr })
    })
  })
}
