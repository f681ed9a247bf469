// count(): the number of records in the window.
import type { Aggregator } from '../aggregator.ts'

export function count<V = unknown>(): Aggregator<V, number, number> {
  return {
    name: 'count',
    init: () => 0,
    add: (acc) => acc + 1,
    merge: (a, b) => a + b,
    result: (acc) => acc,
  }
}
