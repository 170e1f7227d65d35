// What release-pack.mjs and release-smoke.mjs share: the package's paths and names, the pinned
// build tools, and a way to run a command that fails loudly.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const DIST = join(ROOT, 'dist')
export const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))

/** The glibc the linux-gnu binaries are linked against: they load on it and every newer one. */
export const GLIBC_BASELINE = '2.17'

/** The napi-rs name of the platform this runs on: linux-x64-gnu, darwin-arm64, win32-x64-msvc, ... */
export function hostPlatform() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

/** The tarball `npm pack` makes of a package (names as npm writes them, scope-less). */
export const tarballName = (name, version = pkg.version) => `${name}-${version}.tgz`

/** Runs a command; throws with its output when it fails. Returns its stdout. */
export function run(command, args, { cwd = ROOT, env = process.env, quiet = false } = {}) {
  if (!quiet) console.log(`$ ${[command, ...args].join(' ')}${cwd === ROOT ? '' : `   (in ${cwd})`}`)
  // npm and npx are .cmd scripts on Windows, which only a shell starts.
  const shell = process.platform === 'win32' && /^(npm|npx)$/.test(command)
  const result = spawnSync(command, args, { cwd, env, shell, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 })
  if (result.error) throw result.error
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.status}\n${result.stdout}\n${result.stderr}`)
  }
  return { stdout: result.stdout, stderr: result.stderr }
}

/**
 * The pinned PyPI tools (scripts/release-tools.txt) in .tools/venv, installed when missing or
 * when the pins changed. Returns the environment with their bin folder first on PATH.
 */
export function withTools(env = process.env) {
  const venv = join(ROOT, '.tools', 'venv')
  const bin = join(venv, process.platform === 'win32' ? 'Scripts' : 'bin')
  const pins = readFileSync(join(ROOT, 'scripts', 'release-tools.txt'), 'utf8')
  const stamp = join(venv, 'release-tools.txt')
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== pins) {
    mkdirSync(join(ROOT, '.tools'), { recursive: true })
    run(process.platform === 'win32' ? 'python' : 'python3', ['-m', 'venv', venv])
    run(join(bin, 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', join(ROOT, 'scripts', 'release-tools.txt')])
    writeFileSync(stamp, pins)
  }
  const sep = process.platform === 'win32' ? ';' : ':'
  return { ...env, PATH: `${bin}${sep}${env.PATH}` }
}

/**
 * What is wrong with a main package made of these files (paths as `npm pack` lists them): the
 * loader and a source build's crate must be there; binaries (the platform packages hold them),
 * tests, fixtures and build output must not; every relative link of the README must resolve.
 */
export function mainPackageProblems(paths) {
  const files = new Set(paths)
  const problems = []
  const required = ['package.json', 'README.md', 'LICENSE', 'index.js', 'index.mjs', 'index.d.ts', 'binding.js', 'binding.d.ts', 'lib/native.js']
  required.push('scripts/build.js', 'Cargo.toml', 'Cargo.lock', 'build.rs', 'src/lib.rs')
  for (const path of required) if (!files.has(path)) problems.push(`missing ${path}`)
  for (const path of files) {
    if (/\.node$|^(__test__|tests|target|dist|node_modules|npm|\.tools)\/|\.db(-wal|-shm)?$|\.tgz$/.test(path)) problems.push(`should not ship ${path}`)
  }
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  // Each linked path once, however many links (and anchors) point into it.
  const linked = new Set()
  for (const [, target] of readme.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z][a-z+.-]*:|^#/i.test(target)) continue
    linked.add(target.split('#')[0].replace(/^\.\//, '').replace(/\/$/, ''))
  }
  for (const path of linked) {
    if (!files.has(path) && ![...files].some((p) => p.startsWith(`${path}/`))) problems.push(`README.md links to ${path}, which is not in "files"`)
  }
  return problems
}
