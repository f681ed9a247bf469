// countDistinct(of): the exact number of distinct values taken from the records.
import type { Aggregator } from '../aggregator.ts'

/**
 * Exact, so memory grows with the number of distinct values per window. Values compare as a Set does
 * (SameValueZero): 1 and '1' are two values, NaN is one, 0 and -0 are one.
 */
export function countDistinct<V>(
  of: (value: V) => string | number,
): Aggregator<V, Set<string | number>, number> {
  return {
    name: 'countDistinct',
    init: () => new Set(),
    add: (acc, value) => acc.add(of(value)),
    merge: (a, b) => {
      const union = new Set(a)
      for (const v of b) union.add(v)
      return union
    },
    result: (acc) => acc.size,
  }
}
