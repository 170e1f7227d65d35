// What npm sees of the package: its peer range, its platform packages, what `npm pack` ships.
// (scripts/release-smoke.mjs, run by .ci/run, installs the real tarballs.)
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import semver from 'semver'

import { ROOT, mainPackageProblems, pkg } from '../scripts/release-common.mjs'

const require = createRequire(import.meta.url)

test('the Baileys peer range takes 6.7 and later and every 7.0.0 prerelease, and is optional', (t) => {
  const range = pkg.peerDependencies.baileys
  for (const version of ['6.7.0', '6.17.16', '7.0.0-rc14', '7.0.0-rc.1', '7.0.0', '7.1.0']) {
    t.true(semver.satisfies(version, range), `${version} satisfies ${range}`)
  }
  for (const version of ['6.6.9', '6.7.0-rc.1', '5.0.0']) t.false(semver.satisfies(version, range), `${version} does not`)
  t.true(pkg.peerDependenciesMeta.baileys.optional)
})

test('the optional dependencies are the npm/ platform packages, at the package version', (t) => {
  const platforms = readdirSync(join(ROOT, 'npm')).map((dir) => require(join(ROOT, 'npm', dir, 'package.json')))
  t.is(platforms.length, pkg.napi.targets.length)
  t.deepEqual(
    Object.fromEntries(platforms.map((p) => [p.name, p.version]).sort()),
    Object.fromEntries(Object.entries(pkg.optionalDependencies).sort()),
  )
  for (const p of platforms) {
    t.is(p.version, pkg.version, p.name)
    t.is(p.files.length, 1, `${p.name} ships its binary alone`)
    t.true(p.files[0].endsWith('.node') && p.main === p.files[0], p.name)
  }
})

test('the package has no install scripts', (t) => {
  for (const name of ['preinstall', 'install', 'postinstall', 'prepare']) t.false(name in pkg.scripts, name)
})

test('npm pack ships the loader and the crate, and no binary, test or build output', (t) => {
  const [{ files }] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' }))
  t.deepEqual(mainPackageProblems(files.map((f) => f.path)), [])
})

test('the package check catches a binary, a test file, a missing crate file and a README link left out', (t) => {
  const [{ files }] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' }))
  const linked = readFileSync(join(ROOT, 'README.md'), 'utf8').match(/\]\((docs\/[^)#\s]+)/)[1]
  const paths = files.map((f) => f.path).filter((p) => p !== 'Cargo.lock' && p !== linked)
  const problems = mainPackageProblems([...paths, 'baileys-rust-auth.linux-x64-gnu.node', '__test__/store.test.mjs'])
  t.deepEqual(problems.sort(), [
    'README.md links to ' + linked + ', which is not in "files"',
    'missing Cargo.lock',
    'should not ship __test__/store.test.mjs',
    'should not ship baileys-rust-auth.linux-x64-gnu.node',
  ].sort())
})
