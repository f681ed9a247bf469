// Session windows against the reference model (test/runtime/reference-model.ts), for random streams with random
// disorder, late records, gaps, allowed lateness, emit modes and aggregations.
//
// Semantics checked (Flink's EventTimeSessionWindows, but for one boundary): a record at t opens [t, t + gap) and
// merges every session of its key that it overlaps. Records exactly `gap` apart stay in two sessions, as
// docs/dataflow.md says ("records closer than gap"); Flink's TimeWindow.intersects would merge such touching
// sessions too. A session fires in 'final' mode once W >= end − 1 + lateness (timestamp end − 1, key
// {key, start, end}); a record is late (side output and '<step>.late') when the session it would make is already
// that far; 'update' emits the merged session's result for each record and retracts, with a null value, every
// merged-away session whose bounds differ. W = max event time − maxOutOfOrderness − 1, records processed one by one;
// endInput() moves W to +∞. Collected values are compared as multisets: a merge of sessions does not keep arrival
// order.
import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import fc from 'fast-check'
import { pipeline } from '../../src/dsl/pipeline.ts'
import { TestDriver } from '../../src/testing/index.ts'
import { boundedOutOfOrderness } from '../../src/time/watermarks.ts'
import { session } from '../../src/windows/assigners/session.ts'
import { aggCases, assertSameOutputs, assertTimeOrder, RUNS, recordsArb } from '../runtime/differential.ts'
import {
  type EmitMode,
  type RefOutput,
  SessionWindowsModel,
  TaskWatermark,
} from '../runtime/reference-model.ts'

const configArb = fc.record({
  gap: fc.integer({ min: 1, max: 15 }),
  delay: fc.integer({ min: 0, max: 10 }),
  lateness: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20 })),
  emit: fc.constantFrom<EmitMode>('final', 'update'),
  agg: fc.nat(),
})

let drivers: TestDriver[] = []
afterEach(async () => {
  for (const d of drivers) await d.close()
  drivers = []
})

describe('session windows against the reference model', () => {
  it('merge, fire, retract and send late records as the reference does, in both emit modes', () => {
    fc.assert(
      fc.property(configArb, recordsArb(), (c, records) => {
        const cases = aggCases({ panesReorder: true, mergeable: true })
        const agg = cases[c.agg % cases.length]
        const p = pipeline('sessions')
        const results = p
          .source<string, number>('in', { topic: 'in', watermarks: boundedOutOfOrderness(c.delay) })
          .keyBy(null, { name: 'k' })
          .window(session({ gap: c.gap }), { name: 's', lateness: c.lateness, emit: c.emit })
          .aggregate(agg.engine)
        results.to('out')
        results.late().to('late')
        const d = new TestDriver(p)
        drivers.push(d)

        const model = new SessionWindowsModel(c.gap, c.lateness, c.emit, agg.reference)
        const wm = new TaskWatermark(1, c.delay)
        for (const [i, r] of records.entries()) {
          d.pipeInput('in', [{ ...r }])
          const w = wm.current
          const step = model.process(r, w)
          const expected: RefOutput[] = [...step.outputs]
          if (wm.onRecord(0, r.timestamp, 0) > w) expected.push(...model.advance(wm.current))
          const actual = d.readOutput('out')
          assertSameOutputs(actual, expected, `record ${i}`, agg.ordered)
          if (c.emit === 'final') assertTimeOrder(actual, `record ${i}`)
          const late = d.readOutput<string, number>('late')
          assert.deepEqual(
            late.map((x) => ({ key: x.key, value: x.value, timestamp: x.timestamp })),
            step.late,
            `late records at record ${i}`,
          )
        }
        d.endInput('in')
        const actual = d.readOutput('out')
        assertSameOutputs(actual, model.advance(Number.POSITIVE_INFINITY), 'at the end of input', agg.ordered)
        assertTimeOrder(actual, 'at the end of input')
        assert.equal(d.counters()['s.late'] ?? 0, model.lateCount, 'late counter')
      }),
      RUNS,
    )
  })
})
