// collect(of?, { limit }): the records' values (or a projection of them) in arrival order.
import { SluiceError } from '../../errors/index.ts'
import type { Aggregator } from '../aggregator.ts'

export interface CollectOptions {
  /** Keep only the first `limit` values of the window; later ones are ignored. Unbounded by default. */
  limit?: number
}

/**
 * Values end up in window state, so they must be structured-cloneable. "Arrival order" is the order records reach
 * the task (offset order within a partition), not event-time order. The result is a copy: callers may change it.
 */
export function collect<V>(options?: CollectOptions): Aggregator<V, V[], V[]>
export function collect<V, T>(of: (value: V) => T, options?: CollectOptions): Aggregator<V, T[], T[]>
export function collect<V, T>(
  ofOrOptions?: ((value: V) => T) | CollectOptions,
  maybeOptions?: CollectOptions,
): Aggregator<V, T[], T[]> {
  const of = typeof ofOrOptions === 'function' ? ofOrOptions : (value: V) => value as unknown as T
  const options = typeof ofOrOptions === 'function' ? maybeOptions : ofOrOptions
  const limit = options?.limit ?? Number.POSITIVE_INFINITY
  if (limit !== Number.POSITIVE_INFINITY && !(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new SluiceError(
      'SLUICE_ERR_INVALID_ARGUMENT',
      `collect({ limit: ${limit} }) needs limit to be a positive integer, or no limit at all`,
      { details: { limit } },
    )
  }
  return {
    name: options?.limit === undefined ? 'collect' : `collect(limit ${limit})`,
    init: () => [],
    add: (acc, value) => {
      if (acc.length < limit) acc.push(of(value))
      return acc
    },
    // The first `limit` of a then b is the first `limit` of the records of both, so limits merge exactly.
    merge: (a, b) => {
      const out = a.slice(0, limit)
      for (const value of b) {
        if (out.length >= limit) break
        out.push(value)
      }
      return out
    },
    result: (acc) => acc.slice(),
  }
}
