// The fixed-window operator stopped at a commit and brought back from its changelog (as a restart does) goes on as
// if it had never stopped: its index of slices and its timers are rebuilt from the store. Random records, watermark
// moves, commits and the cut, for tumbling, hopping and sliding windows, with and without merge, in both emit modes,
// on both backends (which keep slices differently: src/operators/window-slices.ts).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { EmitMode, Rec } from '../../src/graph/logical.ts'
import type { OperatorContext } from '../../src/operators/operator.ts'
import { fixedWindowOperator } from '../../src/operators/window-aggregate.ts'
import { lmdbState } from '../../src/state/backends/lmdb.ts'
import { memoryState } from '../../src/state/backends/memory.ts'
import { count } from '../../src/windows/aggregations/index.ts'
import type { Aggregator } from '../../src/windows/aggregator.ts'
import { hopping, sliding } from '../../src/windows/assigners/hopping.ts'
import { tumbling } from '../../src/windows/assigners/tumbling.ts'
import type { FixedWindows } from '../../src/windows/assigners/types.ts'
import { asMultiset, OperatorHarness, type Step, storeContents } from './harness.ts'

/** The values of a window in arrival order: no merge, so each window keeps its own accumulator. */
const list: Aggregator<unknown, unknown[], unknown[]> = {
  name: 'list',
  init: () => [],
  add: (acc, v) => {
    acc.push(v)
    return acc
  },
  result: (acc) => [...acc],
}

const assignerArb: fc.Arbitrary<FixedWindows> = fc.oneof(
  fc.integer({ min: 1, max: 8 }).map((size) => tumbling({ size })),
  fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }))
    .map(([advance, k]) => hopping({ size: advance * k + (k > 1 ? 1 : 0), advance })),
  fc.integer({ min: 2, max: 8 }).map((size) => sliding({ size, every: 1 })),
)

/** Epoch-millisecond times, so slice starts print as large numbers do. */
const BASE = 1_700_000_000_000

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .array(fc.tuple(fc.constantFrom<unknown>(1, 2, 4097, 'a', 'b'), fc.integer({ min: 0, max: 40 })), {
        minLength: 1,
        maxLength: 4,
      })
      .map(
        (rs): Step => ({
          kind: 'records',
          records: rs.map(([key, t], i): Rec => ({ key, value: t * 10 + i, timestamp: BASE + t })),
        }),
      ),
  },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 0, max: 45 }).map((t): Step => ({ kind: 'watermark', to: BASE + t })),
  },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: 'commit' }) },
)

for (const backend of [memoryState(), lmdbState()]) {
  describe(`fixed-window operator on ${backend.kind}`, () => {
    it('restored from its changelog at any commit, emits what it would have emitted without stopping', async () => {
      await fc.assert(
        fc.asyncProperty(
          assignerArb,
          fc.boolean(),
          fc.constantFrom<EmitMode>('final', 'update'),
          fc.integer({ min: 0, max: 5 }),
          fc.array(stepArb, { maxLength: 30 }),
          fc.nat(),
          async (assigner, merge, emit, lateness, steps, cutAt) => {
            const aggregator = (merge ? count() : list) as Aggregator<unknown, unknown, unknown>
            const make = (ctx: OperatorContext) =>
              fixedWindowOperator({ assigner, aggregator, lateness, emit }, ctx)
            const all = [...steps, { kind: 'watermark', to: Number.POSITIVE_INFINITY } as Step]
            const whole = new OperatorHarness(make, { backend })
            for (const s of all) whole.run(s)

            const cut = cutAt % (all.length + 1)
            const closing: Promise<void>[] = []
            let h = new OperatorHarness(make, { backend })
            const out: Rec[] = []
            const late: Rec[] = []
            all.forEach((s, i) => {
              if (i === cut) {
                out.push(...h.out)
                late.push(...h.late)
                const before = h
                h = h.restart(make)
                closing.push(before.close())
              }
              h.run(s)
            })
            out.push(...h.out)
            late.push(...h.late)
            assert.deepStrictEqual(asMultiset(out), asMultiset(whole.out))
            assert.deepStrictEqual(asMultiset(late), asMultiset(whole.late))
            assert.deepStrictEqual(storeContents(h.store), storeContents(whole.store))
            await Promise.all([...closing, h.close(), whole.close()])
          },
        ),
        { numRuns: backend.kind === 'memory' ? 500 : 100 },
      )
    })
  })
}

describe('fixed-window operator after a restart that forgot the watermark', () => {
  it('does not fire again the windows that fired before the restart (hopping)', async () => {
    const make = (ctx: OperatorContext) =>
      fixedWindowOperator(
        { assigner: hopping({ size: 10, advance: 2 }), aggregator: count(), lateness: 0, emit: 'final' },
        ctx,
      )
    let h = new OperatorHarness(make)
    h.run({
      kind: 'records',
      records: Array.from({ length: 12 }, (_, t) => ({ key: 'k', value: t, timestamp: t })),
    })
    h.run({ kind: 'watermark', to: 9 })
    const before = h.out.length
    assert.ok(before > 0)
    h = h.restart(make, { forgetWatermark: true })
    h.run({ kind: 'records', records: [{ key: 'k', value: 12, timestamp: 12 }] })
    h.run({ kind: 'watermark', to: 11 })
    const again = h.out.map((r) => (r.key as { start: number }).start)
    // only the window [2, 12) is new at W = 11; [-6,4) ... [0,10) fired before the restart
    assert.deepEqual(again, [2])
    assert.equal(h.out[0].value, 10)
    await h.close()
  })
})
