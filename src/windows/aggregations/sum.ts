// sum(of): the total of a number taken from each record; 0 for an empty accumulator.
import type { Aggregator } from '../aggregator.ts'

/**
 * Floating-point addition is not associative, so a window built from panes may differ from a record-by-record
 * sum in the last bits; integer amounts below 2^53 are exact either way.
 */
export function sum<V>(of: (value: V) => number): Aggregator<V, number, number> {
  return {
    name: 'sum',
    init: () => 0,
    add: (acc, value) => acc + of(value),
    merge: (a, b) => a + b,
    result: (acc) => acc,
  }
}
