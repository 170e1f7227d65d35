#!/usr/bin/env node
// The packaging smoke test: installs the tarballs `npm run release:pack` left in dist/ (the main
// package and this platform's) with Baileys into an empty app, as a user does, on a PATH without
// cargo or rustc, and checks that it works from ESM, CommonJS, TypeScript and the CLI
// (scripts/smoke/). On linux-gnu it also reads the glibc versions the binary needs.
// With --source-build it then builds the installed package from source (`npm run build` in
// node_modules/baileys-rust-auth, Rust on PATH again) and runs the ESM smoke on that build.
//
//   node scripts/release-smoke.mjs [--source-build]
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { parseArgs } from 'node:util'

import { DIST, ROOT, hostPlatform, pkg, run, tarballName } from './release-common.mjs'

const { values: flags } = parseArgs({ options: { 'source-build': { type: 'boolean' }, keep: { type: 'boolean' } } })
const BAILEYS = `baileys@${pkg.devDependencies.baileys}`
const TYPESCRIPT = `typescript@${pkg.devDependencies.typescript}`
/** The newest glibc a linux-gnu binary may need (Debian 10, RHEL 8; the release links against an older one). */
const GLIBC_MAX = '2.28'

const platform = hostPlatform()
const platformPackage = `${pkg.name}-${platform}`
const mainTarball = join(DIST, tarballName(pkg.name))
const platformTarball = join(DIST, tarballName(platformPackage))
for (const file of [mainTarball, platformTarball]) {
  if (!existsSync(file)) throw new Error(`${file} is missing: run 'npm run release:pack' first`)
}

const failures = []
let checks = 0
function check(ok, what) {
  checks++
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`)
  if (!ok) failures.push(what)
}

// A PATH without Rust: no folder on it that holds cargo or rustc.
const exe = process.platform === 'win32' ? '.exe' : ''
const noRustPath = process.env.PATH.split(delimiter)
  .filter((dir) => !existsSync(join(dir, `cargo${exe}`)) && !existsSync(join(dir, `rustc${exe}`)))
  .join(delimiter)
// A user's shell: none of our variables, none that `npm run` sets for its scripts.
const inherited = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^(npm_|BAILEYS_AUTH_STORE$|BAILEYS_RUST_AUTH_BUILD_FROM_SOURCE$)/i.test(name)),
)
const userEnv = { ...inherited, PATH: noRustPath, CARGO_HOME: join(tmpdir(), 'no-cargo-home'), RUSTUP_HOME: join(tmpdir(), 'no-rustup-home') }
check(spawnSync(`cargo${exe}`, ['--version'], { env: userEnv }).error?.code === 'ENOENT', 'cargo is not on the PATH of the app')

const app = mkdtempSync(join(tmpdir(), 'bra-release-smoke-'))
const inApp = (command, args, options = {}) => run(command, args, { cwd: app, env: userEnv, ...options })
try {
  console.log(`smoke: installing into ${app}`)
  // Exactly what a user types: no flags.
  const install = inApp('npm', ['install', mainTarball, platformTarball, BAILEYS])
  const output = `${install.stdout}\n${install.stderr}`
  const ours = output.split('\n').filter((line) => /warn|err/i.test(line) && line.includes(pkg.name))
  check(ours.length === 0, `npm install printed no warning about ${pkg.name}${ours.length ? `:\n${ours.join('\n')}` : ''}`)
  check(!/ERESOLVE/.test(output), 'npm install resolved the peer dependency on Baileys without ERESOLVE')
  const others = output.split('\n').filter((line) => /^npm warn/i.test(line) && !/EBADENGINE|^npm warn (install-scripts\s*$|Run `npm install-scripts)/i.test(line))
  if (others.length) console.log(`smoke: npm's other warnings (not ours):\n  ${others.join('\n  ')}`)

  const installed = join(app, 'node_modules', pkg.name)
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'))
  const scripts = Object.keys(manifest.scripts ?? {}).filter((s) => /^(pre|post)?install$|^prepare$/.test(s))
  check(scripts.length === 0, `the package has no install scripts${scripts.length ? ` (has ${scripts})` : ''}`)
  check(!readdirSync(installed).some((f) => f.endsWith('.node')), 'the main package ships no binary')
  const binaryDir = join(app, 'node_modules', platformPackage)
  const binaries = existsSync(binaryDir) ? readdirSync(binaryDir).filter((f) => f.endsWith('.node')) : []
  check(binaries.length === 1, `${platformPackage} holds the binary (${binaries.join(', ')})`)

  if (platform.endsWith('-gnu') && binaries.length === 1) {
    const symbols = run('objdump', ['-T', join(binaryDir, binaries[0])], { quiet: true }).stdout
    const versions = [...new Set(symbols.match(/GLIBC_[0-9.]+/g) ?? [])].sort(byVersion)
    const highest = versions.at(-1)
    console.log(`smoke: objdump -T ${binaries[0]}: highest glibc symbol version ${highest} (of ${versions.join(' ')})`)
    check(highest !== undefined && byVersion(highest, `GLIBC_${GLIBC_MAX}`) <= 0, `the binary needs glibc <= ${GLIBC_MAX} (${highest})`)
  }

  cpSync(join(ROOT, 'scripts', 'smoke'), app, { recursive: true })
  for (const [what, args] of [
    ['ESM', ['esm.mjs']],
    ['CommonJS', ['cjs.cjs']],
  ]) {
    const { stdout } = inApp(process.execPath, args, { quiet: true })
    process.stdout.write(stdout)
    check(stdout.includes('ok:'), `the smoke script runs from ${what}`)
  }
  inApp('npm', ['install', '--no-audit', '--no-fund', TYPESCRIPT], { quiet: true })
  inApp('npx', ['tsc', '-p', 'tsconfig.json', '--strict'])
  const ts = inApp(process.execPath, ['ts.mjs'], { quiet: true }).stdout
  process.stdout.write(ts)
  check(ts.includes('ok:'), 'the smoke script type-checks with tsc --strict and runs from TypeScript')

  check(inApp('npx', [pkg.name, '--help'], { quiet: true }).stdout.startsWith('Usage: baileys-rust-auth'), `npx ${pkg.name} --help`)
  const listed = inApp('npx', [pkg.name, 'sessions', '--store', 'sqlite:./baileys-auth.db']).stdout
  process.stdout.write(listed)
  check(listed === 'smoke-cjs\nsmoke-esm\nsmoke-ts\n', `npx ${pkg.name} sessions lists the sessions of the default store`)
  const stats = JSON.parse(inApp('npx', [pkg.name, 'stats', 'smoke-esm', '--json'], { quiet: true }).stdout)
  check(stats.credsPresent && stats.totalKeys === 11, `npx ${pkg.name} stats: creds and 11 keys (${stats.totalKeys})`)

  if (flags['source-build']) sourceBuild(installed)
} finally {
  if (!flags.keep) rmSync(app, { recursive: true, force: true })
}

/** `npm run build` in the installed package, then the package loads that build. */
function sourceBuild(installed) {
  const forced = spawnSync(process.execPath, ['esm.mjs'], { cwd: app, env: { ...userEnv, BAILEYS_RUST_AUTH_BUILD_FROM_SOURCE: '1' }, encoding: 'utf8' })
  check(forced.status !== 0 && forced.stderr.includes('ERR_NATIVE_BINDING'), 'with BAILEYS_RUST_AUTH_BUILD_FROM_SOURCE=1 and no source build, loading fails with ERR_NATIVE_BINDING')
  // Rust is back on PATH; the clone's target folder only saves compiling the dependencies again.
  const started = Date.now()
  run('npm', ['run', 'build'], { cwd: installed, env: { ...process.env, CARGO_TARGET_DIR: join(ROOT, 'target') } })
  console.log(`smoke: npm run build in the installed package took ${Math.round((Date.now() - started) / 1000)} s`)
  const built = spawnSync(process.execPath, ['esm.mjs'], { cwd: app, env: { ...userEnv, BAILEYS_RUST_AUTH_BUILD_FROM_SOURCE: '1' }, encoding: 'utf8' })
  process.stdout.write(built.stdout)
  check(built.status === 0 && built.stdout.includes('ok:'), `npm run build in the installed package builds a binary it loads${built.status === 0 ? '' : `:\n${built.stderr}`}`)
}

function byVersion(a, b) {
  const pa = a.replace(/^GLIBC_/, '').split('.').map(Number)
  const pb = b.replace(/^GLIBC_/, '').split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0)
  return 0
}

console.log(`smoke: ${checks - failures.length} passed, ${failures.length} failed`)
if (failures.length > 0) {
  console.log(`smoke: failed:\n  ${failures.join('\n  ')}`)
  process.exitCode = 1
}
