// The stream–stream interval join against a reference of all pairs, for random streams on both sides with random
// disorder, idle sides, late records, bounds and allowed lateness.
//
// Semantics checked: the task reading both sides has W = min over the two inputs (each max event time −
// maxOutOfOrderness − 1), an input with no records for longer than its idleTimeout (processing time) left out, and W
// never goes back. A record is late when t + lateness <= W as it is processed: it joins nothing and is counted in
// '<step>.late'. Every two non-late records of one key, one per side, with |tl − tr| <= within, make exactly one pair
// (joiner(left, right)), emitted when the second of them is processed, with timestamp max(tl, tr) — whatever the
// watermark did in between, since each side is kept until W passes t + within + lateness.
import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import fc from 'fast-check'
import { pipeline } from '../../src/dsl/pipeline.ts'
import { TestDriver } from '../../src/testing/index.ts'
import { boundedOutOfOrderness } from '../../src/time/watermarks.ts'
import { assertSameOutputs, eventsArb, RUNS } from '../runtime/differential.ts'
import { IntervalJoinModel, TaskWatermark } from '../runtime/reference-model.ts'

const configArb = fc.record({
  within: fc.integer({ min: 0, max: 15 }),
  lateness: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 15 })),
  delays: fc.tuple(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 10 })),
  idleTimeout: fc.option(fc.integer({ min: 1, max: 20 }), { nil: null }),
})

let drivers: TestDriver[] = []
afterEach(async () => {
  for (const d of drivers) await d.close()
  drivers = []
})

const SIDES = ['left', 'right'] as const

describe('stream-stream join against the reference of all pairs', () => {
  it('emits every pair of non-late records within the bound, once, when the second arrives', () => {
    fc.assert(
      fc.property(configArb, eventsArb(2, { ticks: true }), (c, events) => {
        const p = pipeline('join')
        const side = (i: 0 | 1) =>
          p
            .source<string, number>(SIDES[i], {
              topic: SIDES[i],
              watermarks: boundedOutOfOrderness(c.delays[i], {
                idleTimeout: c.idleTimeout === null ? undefined : c.idleTimeout,
              }),
            })
            .keyBy(null, { name: `by-${SIDES[i]}` })
        side(0)
          .join(side(1), (l: number, r: number) => [l, r], {
            name: 'j',
            within: c.within,
            lateness: c.lateness,
          })
          .to('out')
        const d = new TestDriver(p)
        drivers.push(d)

        const model = new IntervalJoinModel(c.within, c.lateness)
        const wm = new TaskWatermark(2, c.delays, c.idleTimeout)
        let now = 0
        for (const [i, e] of events.entries()) {
          if (e.kind === 'tick') {
            now += e.ms
            d.advanceTime(e.ms)
            wm.recompute(now)
          } else {
            const input = e.input as 0 | 1
            d.pipeInput(SIDES[input], [{ ...e.record }])
            const expected = model.process(input, e.record, wm.current)
            wm.onRecord(input, e.record.timestamp, now)
            assertSameOutputs(d.readOutput('out'), expected, `event ${i}`)
          }
          assert.equal(d.watermarks()['0_0'], wm.current, `watermark after event ${i}`)
        }
        d.endInput('left')
        d.endInput('right')
        assert.deepEqual(d.readOutput('out'), [], 'the end of input joins nothing more')
        assert.equal(d.counters()['j.late'] ?? 0, model.lateCount, 'late counter')
      }),
      RUNS,
    )
  })
})
