#!/usr/bin/env node
'use strict'
// `npm run build`: builds the native addon with napi-rs's CLI, always with the same flags (the
// generated loader is binding.js, its types binding.d.ts); extra arguments go to `napi build`.
//
// It also runs inside an installed package, to build from source where no prebuilt binary
// fits (or with BAILEYS_RUST_AUTH_BUILD_FROM_SOURCE=1, which makes lib/native.js load only
// that build). There devDependencies are absent, so the CLI comes through `npm exec` at the
// exact version package.json pins for development: the loader it writes is the one we test.

const { spawnSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')
const pinned = require('../package.json').devDependencies['@napi-rs/cli']
const args = ['build', '--platform', '--js', 'binding.js', '--dts', 'binding.d.ts', ...process.argv.slice(2)]

/** The pinned CLI when it is installed (a clone after `npm install`), else undefined. */
function localCli() {
  try {
    const manifest = require.resolve('@napi-rs/cli/package.json', { paths: [root] })
    const { version, bin } = require(manifest)
    if (version !== pinned) return undefined
    return path.join(path.dirname(manifest), typeof bin === 'string' ? bin : bin.napi)
  } catch {
    return undefined
  }
}

let command
const cli = localCli()
if (cli) command = [process.execPath, cli, ...args]
else {
  // npm sets npm_execpath for the scripts it runs; npx is the fallback for `node scripts/build.js`.
  const exec = ['exec', '--yes', `--package=@napi-rs/cli@${pinned}`, '--', 'napi', ...args]
  const npm = process.env.npm_execpath
  command = npm && /npm-cli\.js$/.test(npm) ? [process.execPath, npm, ...exec] : ['npm', ...exec]
  process.stderr.write(`build: @napi-rs/cli ${pinned} is not installed here; running it through npm exec\n`)
}

const result = spawnSync(command[0], command.slice(1), {
  cwd: root,
  stdio: 'inherit',
  // `npm` is npm.cmd on Windows, which only a shell runs.
  shell: process.platform === 'win32' && command[0] === 'npm',
})
if (result.error) throw result.error
process.exitCode = result.status ?? 1
