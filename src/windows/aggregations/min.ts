// min(of): the least of a number taken from each record; null for an empty accumulator.
import type { Aggregator } from '../aggregator.ts'

// null, not Infinity, stands for "no value yet": a window is never empty, but result(init()) and merges of
// empty panes must still mean something, and Infinity would turn into null in JSON anyway. Math.min makes NaN
// win whatever the order, so panes and record-by-record agree.
export function min<V>(of: (value: V) => number): Aggregator<V, number | null, number | null> {
  return {
    name: 'min',
    init: () => null,
    add: (acc, value) => (acc === null ? of(value) : Math.min(acc, of(value))),
    merge: (a, b) => (a === null ? b : b === null ? a : Math.min(a, b)),
    result: (acc) => acc,
  }
}
