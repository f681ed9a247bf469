// max(of): the greatest of a number taken from each record; null for an empty accumulator.
import type { Aggregator } from '../aggregator.ts'

// null for "no value yet" and Math.max for NaN, for the reasons given in min.ts.
export function max<V>(of: (value: V) => number): Aggregator<V, number | null, number | null> {
  return {
    name: 'max',
    init: () => null,
    add: (acc, value) => (acc === null ? of(value) : Math.max(acc, of(value))),
    merge: (a, b) => (a === null ? b : b === null ? a : Math.max(a, b)),
    result: (acc) => acc,
  }
}
