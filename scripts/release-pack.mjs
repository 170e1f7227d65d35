#!/usr/bin/env node
// `npm run release:pack [-- --targets T1,T2]`: a release made on this machine, to test before
// publishing. It builds each target of package.json's napi.targets that this machine can build,
// puts the binaries into their npm/<platform> packages with napi-rs's own commands (`napi
// artifacts`, then `napi pre-publish --skip-optional-publish`, which checks them), and leaves in
// dist/ the main package's tarball and one tarball per platform package built. The release
// workflow (.github/workflows/release.yml, docs/releasing.md) builds every target on runners.
//
// Linux targets are cross-built with `napi build -x` (cargo-zigbuild and zig, pinned in
// scripts/release-tools.txt), the gnu ones against glibc GLIBC_BASELINE so that they load on
// distributions older than the build machine; Apple and Windows targets build on their own OS.
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { parseArgs } from 'node:util'

import { DIST, GLIBC_BASELINE, ROOT, mainPackageProblems, pkg, run, tarballName, withTools } from './release-common.mjs'

const { values: flags } = parseArgs({ options: { targets: { type: 'string' } } })
const wanted = flags.targets?.split(',').filter(Boolean) ?? pkg.napi.targets
for (const t of wanted) if (!pkg.napi.targets.includes(t)) throw new Error(`--targets: ${t} is not in package.json napi.targets`)

const napi = (args, options) => run(process.execPath, [join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js'), ...args], options)

/** The npm/<platform> folders, as `napi create-npm-dirs` wrote them (CI checks they agree), by package name. */
const platformDirs = new Map(
  readdirSync(join(ROOT, 'npm')).map((dir) => [JSON.parse(readFileSync(join(ROOT, 'npm', dir, 'package.json'), 'utf8')).name, dir]),
)
function platformOf(triple) {
  const dir = [...platformDirs.values()].find((d) => tripleOf(d) === triple)
  if (!dir) throw new Error(`npm/ has no package for ${triple}: run 'npx napi create-npm-dirs'`)
  return dir
}
function tripleOf(dir) {
  const [os, arch, abi] = dir.split('-')
  const cpu = { x64: 'x86_64', arm64: 'aarch64' }[arch] ?? arch
  if (os === 'linux') return `${cpu}-unknown-linux-${abi}`
  if (os === 'darwin') return `${cpu}-apple-darwin`
  if (os === 'win32') return `${cpu}-pc-windows-${abi}`
  return undefined
}

/** How to build a target here, or why it cannot be. */
function plan(triple) {
  const os = triple.includes('-linux-') ? 'linux' : triple.includes('-apple-') ? 'darwin' : triple.includes('-windows-') ? 'win32' : undefined
  if (os === 'linux' && process.platform === 'linux') {
    return { triple, cross: true, target: triple.endsWith('-gnu') ? `${triple}.${GLIBC_BASELINE}` : triple }
  }
  if (os === process.platform) return { triple, cross: false, target: triple }
  const why = {
    darwin: 'it links macOS frameworks (Security, CoreFoundation) that only the macOS SDK has: the release workflow builds it on macOS',
    win32: "a cross build (cargo-xwin) downloads Microsoft's CRT and Windows SDK: the release workflow builds it on Windows",
    linux: 'the release workflow builds it on Linux',
  }[os]
  return { triple, skip: why }
}

function checkOptionalDependencies() {
  const expected = Object.fromEntries([...platformDirs.keys()].sort().map((name) => [name, pkg.version]))
  const actual = pkg.optionalDependencies ?? {}
  if (JSON.stringify(Object.fromEntries(Object.entries(actual).sort())) !== JSON.stringify(expected)) {
    throw new Error(`package.json optionalDependencies must be the npm/ packages at ${pkg.version}: expected ${JSON.stringify(expected)}`)
  }
}

function build(plans) {
  const env = plans.some((p) => p.cross) ? withTools() : process.env
  const host = hostTriple()
  const artifacts = join(DIST, '.artifacts')
  rmSync(artifacts, { recursive: true, force: true })
  for (const p of plans) {
    if (p.triple !== host) {
      try {
        run('rustup', ['target', 'add', p.triple], { env, quiet: true })
      } catch (err) {
        p.skip = `rustup cannot install its standard library: ${String(err.message).split('\n').find((l) => /error/i.test(l)) ?? err.message}`
        continue
      }
    }
    const out = join(artifacts, p.triple)
    mkdirSync(out, { recursive: true })
    const args = ['build', '--platform', '--release', '--target', p.target, '--output-dir', out, '--js', 'binding.js', '--dts', 'binding.d.ts']
    if (p.cross) args.push('--cross-compile')
    const started = Date.now()
    // Politely: a release build takes minutes of every core.
    const cli = [process.execPath, join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js'), ...args]
    if (process.platform === 'win32') run(cli[0], cli.slice(1), { env })
    else run('nice', ['-n', '10', ...cli], { env })
    console.log(`release: built ${p.target} in ${Math.round((Date.now() - started) / 1000)} s`)
    p.out = out
  }
  return artifacts
}

function hostTriple() {
  return run('rustc', ['-vV'], { quiet: true }).stdout.match(/^host: (.+)$/m)[1]
}

/** Platform packages: napi artifacts + napi pre-publish in a copy, then npm pack of each. */
function packPlatforms(built, artifacts) {
  const stage = join(DIST, '.stage', 'platforms')
  rmSync(stage, { recursive: true, force: true })
  mkdirSync(join(stage, 'npm'), { recursive: true })
  // The copy's targets are the ones built here: napi artifacts refuses a missing one.
  writeFileSync(join(stage, 'package.json'), JSON.stringify({ ...pkg, napi: { ...pkg.napi, targets: built.map((p) => p.triple) } }, null, 2))
  for (const p of built) cpSync(join(ROOT, 'npm', platformOf(p.triple)), join(stage, 'npm', platformOf(p.triple)), { recursive: true })
  napi(['artifacts', '--cwd', stage, '--output-dir', artifacts])
  napi(['pre-publish', '--cwd', stage, '--tag-style', 'npm', '--skip-optional-publish', '--no-gh-release'])
  return built.map((p) => {
    const dir = join(stage, 'npm', platformOf(p.triple))
    copyFileSync(join(ROOT, 'LICENSE'), join(dir, 'LICENSE'))
    return npmPack(dir)
  })
}

/** The main package: what `npm pack` takes from this clone, with the loader generated by the build above. */
function packMain(firstBuilt) {
  const stage = join(DIST, '.stage', 'main')
  rmSync(stage, { recursive: true, force: true })
  const [{ files }] = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { quiet: true }).stdout)
  const generated = ['binding.js', 'binding.d.ts']
  for (const { path } of files) {
    if (generated.includes(path)) continue
    mkdirSync(dirname(join(stage, path)), { recursive: true })
    copyFileSync(join(ROOT, path), join(stage, path))
  }
  for (const file of generated) copyFileSync(join(firstBuilt.out, file), join(stage, file))
  const tarball = npmPack(stage)
  checkMain(tarball)
  return tarball
}

function npmPack(dir) {
  const [result] = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', DIST], { cwd: dir, quiet: true }).stdout)
  return { ...result, file: join(DIST, result.filename) }
}

function checkMain({ files, file }) {
  const problems = mainPackageProblems(files.map((f) => f.path))
  if (problems.length > 0) throw new Error(`${relative(ROOT, file)}:\n  ${problems.join('\n  ')}`)
}

checkOptionalDependencies()
mkdirSync(DIST, { recursive: true })
for (const f of readdirSync(DIST)) if (f.endsWith('.tgz')) rmSync(join(DIST, f))

const plans = wanted.map(plan)
const artifacts = build(plans.filter((p) => !p.skip))
const built = plans.filter((p) => p.out)
if (built.length === 0) throw new Error('no target of napi.targets can be built here')
const platforms = packPlatforms(built, artifacts)
const main = packMain(built[0])

console.log('\nrelease: dist/')
for (const t of [main, ...platforms]) {
  console.log(`  ${t.filename.padEnd(48)} ${(statSync(t.file).size / 1024).toFixed(0).padStart(6)} KiB  (${t.entryCount} files)`)
}
for (const p of plans.filter((p) => p.skip)) console.log(`  not built here: ${p.triple}: ${p.skip}`)
if (!existsSync(join(DIST, tarballName(pkg.name)))) throw new Error(`npm pack did not write ${tarballName(pkg.name)}`)
