// The keyed process operator stopped at a commit and brought back from its changelog (as a restart does) goes on as
// if it had never stopped: value, map and list state, TTLs and both kinds of timers come back, and the in-memory
// timer queues and caches are rebuilt. Random records of numeric and string keys, watermark and clock moves,
// commits and the cut.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { ProcessFunction, Rec } from '../../src/graph/logical.ts'
import { keyedProcessOperator } from '../../src/operators/keyed-process.ts'
import type { OperatorContext } from '../../src/operators/operator.ts'
import { asMultiset, OperatorHarness, type Step, storeContents } from './harness.ts'

type Command = { op: 'add' | 'clear' | 'event-timer' | 'processing-timer' | 'delete-timer'; n: number }

/** Each record runs a command on its key's state; timers report the state they see and then clear some of it. */
const fn: ProcessFunction<unknown, Command, unknown> = {
  process(c, ctx) {
    const total = ctx.valueState<number>('total')
    const seen = ctx.mapState<number, number>('seen')
    const recent = ctx.listState<number>('recent')
    if (c.op === 'add') {
      total.set((total.get() ?? 0) + c.n)
      seen.set(c.n % 3, (seen.get(c.n % 3) ?? 0) + 1)
      recent.add(c.n)
    } else if (c.op === 'clear') {
      if (c.n % 2 === 0) total.clear()
      else recent.clear()
    } else if (c.op === 'event-timer') ctx.registerEventTimeTimer(ctx.timestamp + c.n)
    else if (c.op === 'processing-timer') ctx.registerProcessingTimeTimer(ctx.now + c.n)
    else ctx.deleteEventTimeTimer(ctx.timestamp + c.n)
    ctx.emit(['process', total.get() ?? null, seen.entries(), recent.get()])
  },
  onTimer(timestamp, ctx) {
    const total = ctx.valueState<number>('total')
    ctx.emit(['timer', timestamp, total.get() ?? null, ctx.listState<number>('recent').get()])
    if (timestamp % 2 === 0) ctx.listState<number>('recent').clear()
    else total.set((total.get() ?? 0) + 1)
    if (timestamp % 5 === 0) ctx.registerEventTimeTimer(timestamp + 3)
  },
}

/** Epoch-millisecond times, so timer keys carry large numbers. */
const BASE = 1_700_000_000_000

const commandArb = fc.record({
  op: fc.constantFrom<Command['op']>(
    'add',
    'add',
    'clear',
    'event-timer',
    'processing-timer',
    'delete-timer',
  ),
  n: fc.integer({ min: 0, max: 6 }),
})

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .array(
        fc.tuple(
          fc.constantFrom<unknown>(1, 2, 1025, 'a', '\u0001b'),
          commandArb,
          fc.integer({ min: 0, max: 30 }),
        ),
        {
          minLength: 1,
          maxLength: 4,
        },
      )
      .map(
        (rs): Step => ({
          kind: 'records',
          records: rs.map(([key, value, t]): Rec => ({ key, value, timestamp: BASE + t })),
        }),
      ),
  },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 0, max: 40 }).map((t): Step => ({ kind: 'watermark', to: BASE + t })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 30 }).map((t): Step => ({ kind: 'clock', to: BASE + t })),
  },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: 'commit' }) },
)

describe('keyed process operator', () => {
  it('restored from its changelog at any commit, emits what it would have emitted without stopping', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 1, max: 20 }), { nil: null }),
        fc.array(stepArb, { maxLength: 30 }),
        fc.nat(),
        (ttl, steps, cutAt) => {
          const make = (ctx: OperatorContext) =>
            keyedProcessOperator(fn as ProcessFunction<unknown, unknown, unknown>, ttl, ctx)
          const all = [
            ...steps,
            { kind: 'watermark', to: BASE + 100 } as Step,
            { kind: 'clock', to: BASE + 100 } as Step,
          ]
          const start = { now: BASE }
          const whole = new OperatorHarness(make, start)
          for (const s of all) whole.run(s)

          const cut = cutAt % (all.length + 1)
          let h = new OperatorHarness(make, start)
          const out: Rec[] = []
          all.forEach((s, i) => {
            if (i === cut) {
              out.push(...h.out)
              h = h.restart(make)
            }
            h.run(s)
          })
          out.push(...h.out)
          assert.deepStrictEqual(asMultiset(out), asMultiset(whole.out))
          assert.deepStrictEqual(storeContents(h.store), storeContents(whole.store))
        },
      ),
      { numRuns: 500 },
    )
  })
})
