// combine({ n: count(), lo: min(f), hi: max(f) }): several aggregations in one pass, as an object with the same keys.
import type { Aggregator } from '../aggregator.ts'

// Accepts any aggregator, since method parameters are checked bivariantly; `unknown` (not `never`) as the value type so
// that a member without one of its own, like `count()`, infers `unknown` and drops out of the intersection below.
type AnyAggregator = Aggregator<unknown, unknown, unknown>
type Aggregators = Record<string, AnyAggregator>

/** The records every member accepts: the intersection of their value types. */
export type CombinedInput<M extends Aggregators> = {
  [K in keyof M]: (value: M[K] extends Aggregator<infer V, infer _A, infer _R> ? V : never) => void
}[keyof M] extends (value: infer V) => void
  ? V
  : never
export type CombinedAccumulator<M extends Aggregators> = {
  [K in keyof M]: M[K] extends Aggregator<infer _V, infer A, infer _R> ? A : never
}
export type CombinedResult<M extends Aggregators> = {
  [K in keyof M]: M[K] extends Aggregator<infer _V, infer _A, infer R> ? R : never
}

/**
 * The accumulator is a plain object of the members' accumulators, so it is structured-cloneable when they are.
 * It can merge only when every member can.
 */
export function combine<M extends Aggregators>(
  aggregators: M,
): Aggregator<CombinedInput<M>, CombinedAccumulator<M>, CombinedResult<M>> {
  type Member = Aggregator<CombinedInput<M>, unknown, unknown>
  const members = Object.entries(aggregators) as [string, Member][]
  // Object.fromEntries defines own properties, so even a key named "__proto__" stays an ordinary key.
  const build = <T>(f: (key: string, member: Member) => unknown) =>
    Object.fromEntries(members.map(([key, member]) => [key, f(key, member)])) as T
  const canMerge = members.every(([, member]) => member.merge !== undefined)
  return {
    name: `combine(${members.map(([key, member]) => `${key}: ${member.name}`).join(', ')})`,
    init: () => build((_, member) => member.init()),
    add: (acc, value) => {
      const slots = acc as Record<string, unknown>
      for (const [key, member] of members) slots[key] = member.add(slots[key], value)
      return acc
    },
    merge: canMerge
      ? (a, b) => {
          const x = a as Record<string, unknown>
          const y = b as Record<string, unknown>
          return build((key, member) => member.merge!(x[key], y[key]))
        }
      : undefined,
    result: (acc) => build((key, member) => member.result((acc as Record<string, unknown>)[key])),
  }
}
