'use strict'
// "Did you mean …?" for the CLI's mistyped commands and options.

/** Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`. */
function editDistance(a, b) {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/**
 * The candidate `word` was most likely meant to be, or undefined: the nearest one within a
 * typo's reach (an edit per three letters, at least one), else the only one it begins.
 */
function closest(word, candidates) {
  let best
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate)
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance]
  }
  if (best !== undefined) return best
  const extending = candidates.filter((c) => word.length >= 3 && c.startsWith(word))
  return extending.length === 1 ? extending[0] : undefined
}

module.exports = { closest, editDistance }
