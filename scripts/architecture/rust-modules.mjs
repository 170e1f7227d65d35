// The Rust half of the architecture check: the `use` graph of src/ between files.
// Paths are resolved the way rustc resolves them (`crate::`, `super::`, `self::`, braces), from
// code only: doc links to modules above (`[Executor](super::executor::Executor)`) are not imports.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

/** The module path (e.g. ['core', 'sqlite', 'open']) of a file under src/. */
function modulePathOf(srcDir, file) {
  const parts = relative(srcDir, file).replace(/\.rs$/, '').split('/')
  if (parts.at(-1) === 'mod' || parts.at(-1) === 'lib') parts.pop()
  return parts
}

/** The file of a module path, or null when the path goes below files (an item, a fn). */
function fileOf(srcDir, modulePath) {
  for (let n = modulePath.length; n >= 0; n--) {
    const base = join(srcDir, ...modulePath.slice(0, n))
    if (n === 0) return join(srcDir, 'lib.rs')
    if (existsSync(`${base}.rs`)) return `${base}.rs`
    if (existsSync(join(base, 'mod.rs'))) return join(base, 'mod.rs')
  }
  return null
}

/** Code without comments and string literals, so that only real paths remain. */
function codeOf(text) {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/r#*"[\s\S]*?"#*/g, '""')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
}

/** Expands `a::{b, c::{d}}` into ['a::b', 'a::c::d']. */
function expandUseTree(tree) {
  tree = tree.replace(/\s+/g, '')
  const open = tree.indexOf('{')
  if (open < 0) return [tree.replace(/::\*$/, '').replace(/\bas\w+$/, '')]
  const prefix = tree.slice(0, open)
  const inner = tree.slice(open + 1, tree.lastIndexOf('}'))
  const items = []
  let depth = 0
  let start = 0
  for (let i = 0; i <= inner.length; i++) {
    const c = inner[i]
    if (c === '{') depth++
    else if (c === '}') depth--
    else if ((c === ',' || i === inner.length) && depth === 0) {
      const item = inner.slice(start, i)
      if (item) items.push(item)
      start = i + 1
    }
  }
  return items.flatMap((item) => expandUseTree(item === 'self' ? prefix.replace(/::$/, '') : prefix + item))
}

/** Every module path a file's code names: `use` trees and inline `crate::`/`super::` paths. */
function pathsNamed(code) {
  // Child modules declared here (`mod settle;`) are named without `self::` in 2018+ Rust.
  const children = [...code.matchAll(/\bmod\s+(\w+)\s*;/g)].map((m) => m[1])
  const roots = ['crate', 'super', 'self', ...children].join('|')
  const paths = []
  for (const m of code.matchAll(/\buse\s+([^;]+);/g)) paths.push(...expandUseTree(m[1]))
  for (const m of code.matchAll(new RegExp(`(?<![\\w:])((?:${roots})(?:::\\w+)+)`, 'g'))) paths.push(m[1])
  return paths.map((p) => (children.includes(p.split('::')[0]) ? `self::${p}` : p))
}

/** Resolves a path named in module `here` to a module path, or null for an external crate. */
function resolve(here, named) {
  const segments = named.split('::').filter(Boolean)
  let base
  if (segments[0] === 'crate') base = []
  else if (segments[0] === 'super' || segments[0] === 'self') base = [...here]
  else return null
  let i = segments[0] === 'crate' ? 1 : 0
  for (; segments[i] === 'super' || segments[i] === 'self'; i++) if (segments[i] === 'super') base.pop()
  return [...base, ...segments.slice(i)]
}

function rustFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name)
    if (statSync(full).isDirectory()) return rustFiles(full)
    return name.endsWith('.rs') ? [full] : []
  })
}

/** The file-to-file `use` graph of src/: Map(file -> Set(file)), files relative to root. */
export function rustGraph(root) {
  const srcDir = join(root, 'src')
  const graph = new Map()
  const files = rustFiles(srcDir)
  // Files declared `#[cfg(test)] mod x;` by their parent.
  const testOnly = new Set()
  for (const file of files) {
    const code = codeOf(readFileSync(file, 'utf8'))
    for (const m of code.matchAll(/#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;/g)) {
      const child = fileOf(srcDir, [...modulePathOf(srcDir, file), m[1]])
      if (child) testOnly.add(relative(root, child))
    }
  }
  for (const file of files) {
    const here = modulePathOf(srcDir, file)
    const from = relative(root, file)
    const to = new Set()
    graph.set(from, to)
    // Test code may use anything: an inline `#[cfg(test)] mod tests { … }` (by convention the
    // file's last item) and test-only files are not part of the architecture.
    if (testOnly.has(from)) continue
    let code = codeOf(readFileSync(file, 'utf8'))
    const tests = code.search(/#\[cfg\(test\)\]\s*mod\s+\w+\s*\{/)
    if (tests >= 0) code = code.slice(0, tests)
    for (const named of pathsNamed(code)) {
      const target = resolve(here, named)
      if (!target) continue
      const targetFile = fileOf(srcDir, target)
      // A module's own children (`mod x;` then `x::…`) and itself are not edges up.
      if (!targetFile || targetFile === file) continue
      const rel = relative(root, targetFile)
      if (rel === 'src/lib.rs') continue
      if (!testOnly.has(rel)) to.add(rel)
    }
  }
  for (const file of testOnly) graph.delete(file)
  return graph
}

/**
 * The circles of a graph (Map(node -> Set(node))): each as the nodes of one strongly connected
 * component (Tarjan) of more than one node, or a node with an edge to itself. Every node of a
 * component reaches every other, so each is on a circle with the rest.
 */
export function circles(graph) {
  let index = 0
  const state = new Map()
  const stack = []
  const found = []
  const visit = (node) => {
    const s = { index, low: index, onStack: true }
    index++
    state.set(node, s)
    stack.push(node)
    for (const next of graph.get(node) ?? []) {
      if (!state.has(next)) {
        visit(next)
        s.low = Math.min(s.low, state.get(next).low)
      } else if (state.get(next).onStack) s.low = Math.min(s.low, state.get(next).index)
    }
    if (s.low === s.index) {
      const component = []
      let n
      do {
        n = stack.pop()
        state.get(n).onStack = false
        component.push(n)
      } while (n !== node)
      if (component.length > 1 || graph.get(node)?.has(node)) found.push(component.reverse())
    }
  }
  for (const node of graph.keys()) if (!state.has(node)) visit(node)
  return found
}

/**
 * Edges that go up: from a module to one of a higher rank. `rankOf(node)` gives a number, or
 * undefined for a node the table does not know (itself an error: every file must be placed).
 */
export function edgesUp(graph, rankOf) {
  const problems = []
  for (const [from, tos] of graph) {
    const rf = rankOf(from)
    if (rf === undefined) problems.push(`${from} has no rank in the table`)
    for (const to of tos) {
      const rt = rankOf(to)
      if (rf !== undefined && rt !== undefined && rt > rf) problems.push(`${from} (rank ${rf}) imports ${to} (rank ${rt}), a module above it`)
    }
  }
  return problems
}
