// avg(of): the arithmetic mean of a number taken from each record; null for an empty accumulator.
import type { Aggregator } from '../aggregator.ts'

export interface AvgAccumulator {
  sum: number
  count: number
}

/** The mean is computed at result time from a sum and a count, so panes merge exactly (up to float addition). */
export function avg<V>(of: (value: V) => number): Aggregator<V, AvgAccumulator, number | null> {
  return {
    name: 'avg',
    init: () => ({ sum: 0, count: 0 }),
    add: (acc, value) => {
      acc.sum += of(value)
      acc.count += 1
      return acc
    },
    merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
    // null rather than NaN (0/0) for an empty accumulator, like min and max.
    result: (acc) => (acc.count === 0 ? null : acc.sum / acc.count),
  }
}
