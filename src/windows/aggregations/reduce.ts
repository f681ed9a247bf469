// reduce(fn): folds the window's values with an associative function; null for an empty accumulator.
import type { Aggregator } from '../aggregator.ts'

export interface ReduceAccumulator<V> {
  has: boolean
  value: V | undefined
}

/**
 * `fn` must be associative (panes are reduced separately, then combined with `fn`) and must return a new value
 * rather than change its arguments, because the values it sees may belong to shared panes. The values are kept in
 * window state, so they must be structured-cloneable.
 */
export function reduce<V>(fn: (a: V, b: V) => V): Aggregator<V, ReduceAccumulator<V>, V | null> {
  return {
    name: 'reduce',
    init: () => ({ has: false, value: undefined }),
    add: (acc, value) => {
      acc.value = acc.has ? fn(acc.value as V, value) : value
      acc.has = true
      return acc
    },
    // Always a new object: the caller may add to the result, which must not reach a or b.
    merge: (a, b) => {
      if (!a.has) return { has: b.has, value: b.value }
      if (!b.has) return { has: true, value: a.value }
      return { has: true, value: fn(a.value as V, b.value as V) }
    },
    result: (acc) => (acc.has ? (acc.value as V) : null),
  }
}
