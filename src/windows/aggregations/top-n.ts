// topN(n, { key, score }): the n keys with the highest total score in the window (the n most frequent by default).
import { SluiceError } from '../../errors/index.ts'
import type { Aggregator } from '../aggregator.ts'

export interface TopNOptions<V> {
  key: (value: V) => string
  /** What a record adds to its key's total; 1 by default, so the total is the key's record count. */
  score?: (value: V) => number
}

export interface Ranked {
  key: string
  score: number
}

// Highest score first, NaN scores last, ties by key in code-unit order, so equal inputs give equal output
// whatever the arrival order or pane split.
function byRank(x: Ranked, y: Ranked): number {
  const xNaN = Number.isNaN(x.score)
  const yNaN = Number.isNaN(y.score)
  if (xNaN !== yNaN) return xNaN ? 1 : -1
  if (!xNaN && x.score !== y.score) return y.score > x.score ? 1 : -1
  return x.key < y.key ? -1 : x.key > y.key ? 1 : 0
}

/**
 * Keeps the total of every key, not just the current top n, so that merging panes is exact (a key outside the top
 * of each pane can be in the top of their union). Memory therefore grows with the distinct keys per window.
 */
export function topN<V>(n: number, options: TopNOptions<V>): Aggregator<V, Map<string, number>, Ranked[]> {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new SluiceError(
      'SLUICE_ERR_INVALID_ARGUMENT',
      `topN(${n}) needs n to be a positive integer: the number of keys to keep`,
      { details: { n } },
    )
  }
  const { key, score } = options
  return {
    name: `topN(${n})`,
    init: () => new Map(),
    add: (acc, value) => {
      const k = key(value)
      return acc.set(k, (acc.get(k) ?? 0) + (score === undefined ? 1 : score(value)))
    },
    merge: (a, b) => {
      const totals = new Map(a)
      for (const [k, s] of b) totals.set(k, (totals.get(k) ?? 0) + s)
      return totals
    },
    result: (acc) => {
      const ranked: Ranked[] = []
      for (const [k, s] of acc) ranked.push({ key: k, score: s })
      return ranked.sort(byRank).slice(0, n)
    },
  }
}
