#!/usr/bin/env node
// `node scripts/release-check-registry.mjs VERSION`: the release workflow's gate before the main
// package is published. It exits 0 only when every platform package (package.json's
// optionalDependencies) is on the registry at VERSION: a main package whose binaries are missing
// would install and then fail to load. A package published moments ago can take a while to
// show, so each missing one is asked again a few times before the gate closes.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const version = process.argv[2] ?? pkg.version
if (version !== pkg.version) throw new Error(`version ${version} is not package.json's ${pkg.version}`)

const names = Object.keys(pkg.optionalDependencies ?? {})
for (const name of names) {
  if (pkg.optionalDependencies[name] !== version) throw new Error(`optionalDependencies: ${name} is at ${pkg.optionalDependencies[name]}, not ${version}`)
}

function published(name) {
  const r = spawnSync('npm', ['view', `${name}@${version}`, 'version', '--json'], { encoding: 'utf8', shell: process.platform === 'win32' })
  return r.status === 0 && r.stdout.trim() !== '' && [JSON.parse(r.stdout)].flat().includes(version)
}

let missing = names
for (let attempt = 1; missing.length > 0 && attempt <= 10; attempt++) {
  if (attempt > 1) await sleep(15_000)
  missing = missing.filter((name) => !published(name))
  console.log(`attempt ${attempt}: ${names.length - missing.length} of ${names.length} platform packages at ${version} on the registry`)
}
if (missing.length > 0) {
  console.error(`not publishing ${pkg.name}@${version}: missing from the registry: ${missing.join(', ')}`)
  process.exit(1)
}
console.log(`every platform package of ${pkg.name}@${version} is on the registry`)
