'use strict'
// Loads the native addon. binding.js, which `napi build` generates, looks for this platform's
// binary: first a file built in this package's folder (`npm run build`), then the platform
// package (baileys-rust-auth-linux-x64-gnu, ...) that npm installs from optionalDependencies.
// When neither loads, its error advises deleting node_modules, which rarely helps; this module
// says instead which platform this is, which package would hold its binary, and how to build
// one. With BAILEYS_RUST_AUTH_BUILD_FROM_SOURCE=1 only a binary built in this folder is loaded.

const fs = require('node:fs')
const path = require('node:path')
const { ErrorCodes, storeError } = require('./errors.js')

const root = path.join(__dirname, '..')
const pkg = require('../package.json')

/** This platform as napi-rs names it: linux-x64-gnu, linux-arm64-musl, darwin-arm64, win32-x64-msvc, ... */
function platformName() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function isMusl() {
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch {
    // No ldd (a slim image): a glibc Node reports its glibc version, a musl one none.
    return !process.report?.getReport()?.header?.glibcVersionRuntime
  }
}

function sourceBuildHint() {
  return `To build it from source (needs Rust, https://rustup.rs): run \`npm run build\` in ${root}.`
}

/**
 * The first lines of the loader's failures other than "not found": a binary that is there but
 * does not load (too old a glibc, another architecture). The loader chains them through `cause`
 * as plain messages, without their codes.
 */
function loadFailures(err) {
  const messages = []
  for (let e = err?.cause; e; e = e.cause) {
    const first = String(e.message).split('\n')[0]
    if (!first.startsWith('Cannot find module')) messages.push(first)
  }
  return messages
}

function explain(err) {
  const platform = platformName()
  const packageName = `${pkg.name}-${platform}`
  const published = Object.hasOwn(pkg.optionalDependencies ?? {}, packageName)
  const lines = [`${pkg.name}: no native binary could be loaded for this platform (${platform}).`]
  if (!published) {
    lines.push(`No prebuilt binary is published for ${platform} (there would be one in ${packageName}).`)
  } else {
    let installed = false
    try {
      require.resolve(`${packageName}/package.json`, { paths: [root] })
      installed = true
    } catch {}
    lines.push(
      installed
        ? `Its binary comes in ${packageName}, which is installed but failed to load.`
        : `Its binary comes in ${packageName}@${pkg.version}, an optional dependency that was not installed ` +
            `(installs with --omit=optional or --no-optional skip it, and so does a lock file made on another platform); ` +
            `\`npm install ${packageName}@${pkg.version}\` adds it.`,
    )
  }
  for (const failure of loadFailures(err)) lines.push(`  ${failure}`)
  lines.push(sourceBuildHint())
  return storeError(ErrorCodes.NATIVE_BINDING, lines.join('\n'), err)
}

function load() {
  if (process.env.BAILEYS_RUST_AUTH_BUILD_FROM_SOURCE === '1') {
    const file = path.join(root, `${pkg.napi.binaryName}.${platformName()}.node`)
    try {
      return require(file)
    } catch (err) {
      const why = err.code === 'MODULE_NOT_FOUND' ? `there is no ${path.basename(file)} in ${root}` : String(err.message).split('\n')[0]
      throw storeError(
        ErrorCodes.NATIVE_BINDING,
        `${pkg.name}: BAILEYS_RUST_AUTH_BUILD_FROM_SOURCE=1 loads only a binary built from source, and ${why}.\n${sourceBuildHint()}`,
        err,
      )
    }
  }
  if (!fs.existsSync(path.join(root, 'binding.js'))) {
    // A clone (or a git dependency) that was never built: binding.js is written by the build.
    throw storeError(ErrorCodes.NATIVE_BINDING, `${pkg.name}: the native addon has not been built (${root} has no binding.js).\n${sourceBuildHint()}`)
  }
  try {
    return require('../binding.js')
  } catch (err) {
    throw explain(err)
  }
}

module.exports = load()
