// Tumbling, hopping and sliding windows against the reference model (test/runtime/reference-model.ts), for random
// streams with random disorder, late records, window shapes, allowed lateness, emit modes and aggregations.
//
// Semantics checked (Flink's): the watermark is W = max event time − maxOutOfOrderness − 1, and each record is
// processed with the W left by the records before it (a batch, with the W before the batch). A window [start, end)
// fires in 'final' mode once W >= end − 1 + lateness, with timestamp end − 1 and key {key, start, end}; a record is
// late (side output `.late()` and counter '<step>.late') when even the latest window containing it is that far;
// 'update' emits the current result of every not-yet-done window a record lands in; endInput() moves W to +∞.
// Results are compared step by step (after each batch) as multisets: the order across keys is not specified, but
// fired results must come in time order, and the late side output must match exactly, in order.
import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import fc from 'fast-check'
import { pipeline } from '../../src/dsl/pipeline.ts'
import { TestDriver } from '../../src/testing/index.ts'
import { boundedOutOfOrderness } from '../../src/time/watermarks.ts'
import { hopping, sliding } from '../../src/windows/assigners/hopping.ts'
import { tumbling } from '../../src/windows/assigners/tumbling.ts'
import type { FixedWindows } from '../../src/windows/assigners/types.ts'
import {
  type AggCase,
  aggCases,
  assertSameOutputs,
  assertTimeOrder,
  RUNS,
  recordsArb,
} from '../runtime/differential.ts'
import {
  type EmitMode,
  type FixedShape,
  FixedWindowsModel,
  type RefOutput,
  type RefRecord,
  TaskWatermark,
} from '../runtime/reference-model.ts'

interface Config {
  kind: 'tumbling' | 'hopping' | 'sliding'
  shape: FixedShape
  delay: number
  lateness: number
  emit: EmitMode
  agg: number
}

const configArb: fc.Arbitrary<Config> = fc
  .record({
    kind: fc.constantFrom('tumbling' as const, 'hopping' as const, 'sliding' as const),
    advance: fc.integer({ min: 1, max: 10 }),
    extra: fc.integer({ min: 0, max: 20 }),
    offset: fc.integer({ min: 0, max: 30 }),
    delay: fc.integer({ min: 0, max: 10 }),
    lateness: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20 })),
    emit: fc.constantFrom('final' as const, 'update' as const),
    agg: fc.nat(),
  })
  .map(({ kind, advance, extra, offset, ...rest }) => {
    const size = advance + extra
    const step = kind === 'tumbling' ? size : advance
    return { kind, shape: { size, advance: step, offset: kind === 'sliding' ? 0 : offset }, ...rest }
  })

function assignerOf(c: Config): FixedWindows {
  const { size, advance, offset } = c.shape
  if (c.kind === 'tumbling') return tumbling({ size, offset })
  if (c.kind === 'hopping') return hopping({ size, advance, offset })
  return sliding({ size, every: advance })
}

function aggOf(c: Config): AggCase {
  const cases = aggCases({ panesReorder: c.shape.advance !== c.shape.size, mergeable: false })
  return cases[c.agg % cases.length]
}

let drivers: TestDriver[] = []
afterEach(async () => {
  for (const d of drivers) await d.close()
  drivers = []
})

function build(c: Config, agg: AggCase, source: 'topic' | RefRecord[]): TestDriver {
  const p = pipeline('fixed')
  const watermarks = boundedOutOfOrderness(c.delay)
  const input =
    source === 'topic'
      ? p.source<string, number>('in', { topic: 'in', watermarks })
      : p.fromRecords<string, number>('in', source, { watermarks })
  const results = input
    .keyBy(null, { name: 'k' })
    .window(assignerOf(c), { name: 'w', lateness: c.lateness, emit: c.emit })
    .aggregate(agg.engine)
  results.to('out')
  results.late().to('late')
  const d = new TestDriver(p, { batchSize: 1000 })
  drivers.push(d)
  return d
}

const lateOf = (d: TestDriver) =>
  d.readOutput<string, number>('late').map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp }))

/** Splits records into the batches a fetch would hand over: mostly one record, sometimes a few. */
function batches(records: RefRecord[], sizes: number[]): RefRecord[][] {
  const out: RefRecord[][] = []
  for (let i = 0, b = 0; i < records.length; b++) {
    const n = sizes[b % sizes.length]
    out.push(records.slice(i, i + n))
    i += n
  }
  return out
}

const batchSizesArb = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(1) },
    { weight: 1, arbitrary: fc.integer({ min: 2, max: 6 }) },
  ),
  { minLength: 1, maxLength: 10 },
)

describe('fixed windows against the reference model', () => {
  it('tumbling, hopping and sliding windows, both emit modes, with lateness, give the reference results', () => {
    fc.assert(
      fc.property(configArb, recordsArb(), batchSizesArb, (c, records, sizes) => {
        const agg = aggOf(c)
        const d = build(c, agg, 'topic')
        const model = new FixedWindowsModel(c.shape, c.lateness, c.emit, agg.reference)
        const wm = new TaskWatermark(1, c.delay)
        for (const [i, batch] of batches(records, sizes).entries()) {
          d.pipeInput(
            'in',
            batch.map((r) => ({ ...r })),
          )
          const w = wm.current
          const expected: RefOutput[] = []
          const expectedLate: RefRecord[] = []
          for (const r of batch) {
            const step = model.process(r, w)
            expected.push(...step.outputs)
            expectedLate.push(...step.late)
          }
          for (const r of batch) wm.onRecord(0, r.timestamp, 0)
          if (wm.current > w) expected.push(...model.advance(wm.current))
          const actual = d.readOutput('out')
          assertSameOutputs(actual, expected, `batch ${i}`, agg.ordered)
          if (c.emit === 'final') assertTimeOrder(actual, `batch ${i}`)
          assert.deepEqual(lateOf(d), expectedLate, `late records of batch ${i}`)
          assert.equal(d.watermarks()['0_0'], wm.current, `watermark after batch ${i}`)
        }
        d.endInput('in')
        const final = model.advance(Number.POSITIVE_INFINITY)
        const actual = d.readOutput('out')
        assertSameOutputs(actual, final, 'at the end of input', agg.ordered)
        assertTimeOrder(actual, 'at the end of input')
        assert.equal(d.counters()['w.late'] ?? 0, model.lateCount, 'late counter')
      }),
      RUNS,
    )
  })

  it('an in-memory source is one batch under the initial watermark, and its end closes every window', () => {
    fc.assert(
      fc.property(configArb, recordsArb(), (c, records) => {
        const agg = aggOf(c)
        const d = build(c, agg, records)
        const model = new FixedWindowsModel(c.shape, c.lateness, c.emit, agg.reference)
        const expected: RefOutput[] = []
        for (const r of records) expected.push(...model.process(r, Number.NEGATIVE_INFINITY).outputs)
        expected.push(...model.advance(Number.POSITIVE_INFINITY))
        assertSameOutputs(d.readOutput('out'), expected, 'results', agg.ordered)
        assert.deepEqual(lateOf(d), [])
      }),
      { numRuns: 50 },
    )
  })
})
