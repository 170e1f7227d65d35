// The native loader (lib/native.js): which binary it loads, and the error a user sees when none
// fits. Each case runs in a fresh Node process on a copy of the package's loader files laid out
// as npm installs them, so nothing here depends on what this clone has built or installed.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { tempDir } from './helpers/temp.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const require = createRequire(import.meta.url)
const pkg = require('../package.json')

// This machine's platform, worked out here independently of lib/native.js.
const libc = process.platform === 'linux' ? (process.report.getReport().header.glibcVersionRuntime ? '-gnu' : '-musl') : ''
const PLATFORM = `${process.platform}-${process.arch}${libc}${process.platform === 'win32' ? '-msvc' : ''}`
const PLATFORM_PACKAGE = `${pkg.name}-${PLATFORM}`
const BINARY = `${pkg.napi.binaryName}.${PLATFORM}.node`

/** An app folder with the package (its loader files only) in node_modules; returns both paths. */
function installedCopy({ binding = true } = {}) {
  const app = tempDir('bra-native-')
  const dir = join(app, 'node_modules', pkg.name)
  mkdirSync(join(dir, 'lib'), { recursive: true })
  for (const file of ['package.json', 'lib/native.js', 'lib/errors.js', ...(binding ? ['binding.js'] : [])]) {
    copyFileSync(join(ROOT, file), join(dir, file))
  }
  return { app, dir }
}

/** Installs a platform package in `app` whose binary is `binary` (a path to copy, or bytes). */
function installPlatformPackage(app, binary) {
  const dir = join(app, 'node_modules', PLATFORM_PACKAGE)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: PLATFORM_PACKAGE, version: pkg.version, main: BINARY }))
  if (typeof binary === 'string') copyFileSync(binary, join(dir, BINARY))
  else writeFileSync(join(dir, BINARY), binary)
}

/** Loads `dir`/lib/native.js in a new process: { ok: true, exports } or { ok: false, code, message }. */
function load(dir, env = {}) {
  const script = `
    try {
      const native = require(${JSON.stringify(join(dir, 'lib', 'native.js'))})
      console.log(JSON.stringify({ ok: true, exports: Object.keys(native) }))
    } catch (err) {
      console.log(JSON.stringify({ ok: false, code: err.code, message: err.message }))
    }`
  const { BAILEYS_RUST_AUTH_BUILD_FROM_SOURCE, ...inherited } = process.env
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { ...inherited, ...env }, encoding: 'utf8' }))
}

test('the binary of the installed platform package is loaded', (t) => {
  const { app, dir } = installedCopy()
  installPlatformPackage(app, join(ROOT, BINARY))
  const result = load(dir)
  t.true(result.ok, result.message)
  t.true(result.exports.includes('NativeStore'))
})

test('without a binary for this platform the error names the platform, its package and the source build', (t) => {
  const { dir } = installedCopy()
  const result = load(dir)
  t.false(result.ok)
  t.is(result.code, 'ERR_NATIVE_BINDING')
  t.true(result.message.includes(`(${PLATFORM})`), result.message)
  t.true(result.message.includes(`npm install ${PLATFORM_PACKAGE}@${pkg.version}`), result.message)
  t.true(result.message.includes(`\`npm run build\` in ${dir}`), result.message)
  t.false(result.message.includes('node_modules directory'), 'not the generated loader\'s advice')
})

test('a platform package whose binary does not load is named, with the reason it failed', (t) => {
  const { app, dir } = installedCopy()
  installPlatformPackage(app, Buffer.from('not a shared library'))
  const result = load(dir)
  t.is(result.code, 'ERR_NATIVE_BINDING')
  t.true(result.message.includes(`${PLATFORM_PACKAGE}, which is installed but failed to load`), result.message)
  t.true(result.message.includes(BINARY), 'the failure names the file: ' + result.message)
})

test('a package that was never built says so and how to build it', (t) => {
  const { dir } = installedCopy({ binding: false })
  const result = load(dir)
  t.is(result.code, 'ERR_NATIVE_BINDING')
  t.true(result.message.includes('has not been built'), result.message)
  t.true(result.message.includes('`npm run build`'), result.message)
})

test('BAILEYS_RUST_AUTH_BUILD_FROM_SOURCE=1 loads only a binary built in the package folder', (t) => {
  const { app, dir } = installedCopy()
  installPlatformPackage(app, join(ROOT, BINARY))
  const prebuiltOnly = load(dir, { BAILEYS_RUST_AUTH_BUILD_FROM_SOURCE: '1' })
  t.is(prebuiltOnly.code, 'ERR_NATIVE_BINDING')
  t.true(prebuiltOnly.message.includes(`there is no ${BINARY} in ${dir}`), prebuiltOnly.message)

  copyFileSync(join(ROOT, BINARY), join(dir, BINARY)) // what `npm run build` leaves there
  const built = load(dir, { BAILEYS_RUST_AUTH_BUILD_FROM_SOURCE: '1' })
  t.true(built.ok, built.message)
  t.true(built.exports.includes('NativeStore'))
})
