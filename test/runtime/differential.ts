// Helpers shared by the differential property tests: random streams, aggregations paired with their reference, and
// the comparison of what the engine emitted in one step with what the reference model expected.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { Windowed } from '../../src/graph/logical.ts'
import { collect, count, sum } from '../../src/windows/aggregations/index.ts'
import type { Aggregator } from '../../src/windows/aggregator.ts'
import type { RefAggregate, RefOutput, RefRecord } from './reference-model.ts'

export const KEYS = ['a', 'b', 'c'] as const

export type Event = { kind: 'record'; input: number; record: RefRecord } | { kind: 'tick'; ms: number }

const disorderArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 4 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 40 }) },
)

/**
 * Records of a few keys with unique values 1, 2, 3 ... and timestamps that mostly move forward by a little, out of
 * order by a little, and now and then far behind (late records), spread over `inputs` inputs (sides of a join,
 * partitions of a topic) and mixed, when `ticks`, with moves of processing time long enough for an input to go
 * idle now and then.
 */
export function eventsArb(inputs: number, options: { maxLength?: number; ticks?: boolean } = {}) {
  const rec = fc.tuple(
    fc.constant('record' as const),
    fc.nat(inputs - 1),
    fc.constantFrom(...KEYS),
    fc.integer({ min: 0, max: 6 }),
    disorderArb,
  )
  const tick = fc.tuple(fc.constant('tick' as const), fc.integer({ min: 0, max: 15 }))
  const item = options.ticks ? fc.oneof({ weight: 3, arbitrary: rec }, { weight: 1, arbitrary: tick }) : rec
  return fc.array(item, { maxLength: options.maxLength ?? 40, size: 'max' }).map((items) => {
    let clock = 0
    let value = 0
    return items.map((it): Event => {
      if (it[0] === 'tick') return { kind: 'tick', ms: it[1] }
      const [, input, key, step, behind] = it
      clock += step
      return {
        kind: 'record',
        input,
        record: { key, value: ++value, timestamp: Math.max(0, clock - behind) },
      }
    })
  })
}

/** Records on one input, without moves of processing time. */
export function recordsArb(maxLength = 40): fc.Arbitrary<RefRecord[]> {
  return eventsArb(1, { maxLength }).map((events) =>
    events.flatMap((e) => (e.kind === 'record' ? [e.record] : [])),
  )
}

export interface AggCase {
  name: string
  engine: Aggregator<number, unknown, unknown>
  reference: RefAggregate
  /** False when only the multiset of collected values is specified (panes and merged sessions reorder them). */
  ordered: boolean
}

/** collect() without merge(): the window operator then keeps one accumulator per window, not panes. */
const collectWithoutMerge: Aggregator<number, number[], number[]> = {
  name: 'collect-no-merge',
  init: () => [],
  add: (acc, v) => {
    acc.push(v)
    return acc
  },
  result: (acc) => acc.slice(),
}

export function aggCases(options: { panesReorder: boolean; mergeable: boolean }): AggCase[] {
  const cases: AggCase[] = [
    { name: 'count', engine: count(), reference: (vs) => vs.length, ordered: true },
    {
      name: 'sum',
      engine: sum((v: number) => v) as Aggregator<number, unknown, unknown>,
      reference: (vs) => vs.reduce((a, b) => a + b, 0),
      ordered: true,
    },
    {
      name: 'collect',
      engine: collect<number>() as Aggregator<number, unknown, unknown>,
      reference: (vs) => [...vs],
      ordered: !options.panesReorder,
    },
  ]
  if (!options.mergeable) {
    cases.push({
      name: 'collect-no-merge',
      engine: collectWithoutMerge as Aggregator<number, unknown, unknown>,
      reference: (vs) => [...vs],
      ordered: true,
    })
  }
  return cases
}

/** A comparable text for an output: windowed keys spelled out, collected values sorted unless order is specified. */
export function canon(r: RefOutput, ordered = true): string {
  const k = r.key as Partial<Windowed<unknown>> | null
  const key = typeof k === 'object' && k !== null && 'start' in k ? [k.key, k.start, k.end] : r.key
  const value = !ordered && Array.isArray(r.value) ? [...r.value].sort((a, b) => a - b) : r.value
  return JSON.stringify([key, value, r.timestamp])
}

/** The engine's outputs of one step equal the reference's, as multisets (order across keys is not specified). */
export function assertSameOutputs(
  actual: RefOutput[],
  expected: RefOutput[],
  what: string,
  ordered = true,
): void {
  const a = actual.map((r) => canon(r, ordered)).sort()
  const e = expected.map((r) => canon(r, ordered)).sort()
  assert.deepEqual(a, e, what)
}

/** Results fired by one watermark advance come in time order. */
export function assertTimeOrder(outputs: RefOutput[], what: string): void {
  for (let i = 1; i < outputs.length; i++) {
    assert.ok(outputs[i - 1].timestamp <= outputs[i].timestamp, `${what}: fired out of time order`)
  }
}

/** Runs per property; PROPERTY_RUNS=5000 searches deeper (a failure prints its seed and shrunk counterexample). */
export const RUNS = { numRuns: Number(process.env.PROPERTY_RUNS ?? 300) }
