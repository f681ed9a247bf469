// Keyed process functions against the reference model: one process function, driven by commands in the records,
// runs both in the engine and over the model's naive state and timers (test/runtime/reference-model.ts), for random
// commands, keys, event times, moves of processing time and TTLs.
//
// Semantics checked (Flink's KeyedProcessFunction): value, map and list state are per key; event-time timers fire
// once the watermark (max event time − maxOutOfOrderness − 1, as records are processed one by one) reaches them,
// at the next rise of the watermark, in time order, timers set while firing included; processing-time timers fire
// when advanceTime() moves the virtual clock to them; a timer is set at most once per key and time, and deleting it
// cancels it; with a TTL, a state written at `now` reads as absent from now + ttl on (a map or list state expires as
// a whole, as docs/dataflow.md describes). Each step's outputs (records, timer firings, with the state, watermark
// and clock they saw) are compared as multisets, and the event-time firings of a step must come in time order.
import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import fc from 'fast-check'
import { pipeline } from '../../src/dsl/pipeline.ts'
import type { ProcessFunction } from '../../src/graph/logical.ts'
import { TestDriver } from '../../src/testing/index.ts'
import { boundedOutOfOrderness } from '../../src/time/watermarks.ts'
import { assertSameOutputs, eventsArb, RUNS } from '../runtime/differential.ts'
import {
  KeyedProcessModel,
  type RefOutput,
  type RefProcessContext,
  type RefProcessFunction,
  TaskWatermark,
} from '../runtime/reference-model.ts'

type Command =
  | { op: 'value'; v: number }
  | { op: 'value-clear' }
  | { op: 'map-set'; k: string; v: number }
  | { op: 'map-delete'; k: string }
  | { op: 'list-add'; v: number }
  | { op: 'list-clear' }
  | { op: 'event-timer'; at: number }
  | { op: 'event-timer-delete'; at: number }
  | { op: 'processing-timer'; at: number }
  | { op: 'processing-timer-delete'; at: number }
  | { op: 'read' }

/** Timer times on a coarse grid, so that timers coincide, get deleted and fire together. */
const grid = fc.integer({ min: 0, max: 20 }).map((n) => n * 4)
const small = fc.integer({ min: 1, max: 9 })
const mapKey = fc.constantFrom('x', 'y', 'z')

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  small.map((v) => ({ op: 'value' as const, v })),
  fc.constant({ op: 'value-clear' as const }),
  fc.tuple(mapKey, small).map(([k, v]) => ({ op: 'map-set' as const, k, v })),
  mapKey.map((k) => ({ op: 'map-delete' as const, k })),
  small.map((v) => ({ op: 'list-add' as const, v })),
  fc.constant({ op: 'list-clear' as const }),
  grid.map((at) => ({ op: 'event-timer' as const, at })),
  grid.map((at) => ({ op: 'event-timer-delete' as const, at })),
  grid.map((at) => ({ op: 'processing-timer' as const, at })),
  grid.map((at) => ({ op: 'processing-timer-delete' as const, at })),
  fc.constant({ op: 'read' as const }),
)

interface Out {
  kind: string
  at: number
  wm: number
  now: number
  value: number | undefined
  map: [string, number][]
  list: (number | string)[]
}

type Ctx = RefProcessContext<Out>

function snapshot(ctx: Ctx, kind: string, at: number): Out {
  return {
    kind,
    at,
    wm: ctx.watermark,
    now: ctx.now,
    value: ctx.valueState<number>('v').get(),
    map: ctx.mapState<string, number>('m').entries(),
    list: ctx.listState<number | string>('l').get(),
  }
}

/** The function under test, written once against the context surface the engine and the model share. */
const fn: RefProcessFunction<{ id: number; cmd: Command }, Out> = {
  process({ id, cmd }, ctx) {
    switch (cmd.op) {
      case 'value':
        ctx.valueState<number>('v').set(cmd.v)
        break
      case 'value-clear':
        ctx.valueState('v').clear()
        break
      case 'map-set':
        ctx.mapState<string, number>('m').set(cmd.k, cmd.v)
        break
      case 'map-delete':
        ctx.mapState<string, number>('m').delete(cmd.k)
        break
      case 'list-add':
        ctx.listState<number>('l').add(cmd.v)
        break
      case 'list-clear':
        ctx.listState('l').clear()
        break
      case 'event-timer':
        ctx.registerEventTimeTimer(cmd.at)
        break
      case 'event-timer-delete':
        ctx.deleteEventTimeTimer(cmd.at)
        break
      case 'processing-timer':
        ctx.registerProcessingTimeTimer(cmd.at)
        break
      case 'processing-timer-delete':
        ctx.deleteProcessingTimeTimer(cmd.at)
        break
    }
    ctx.emit(snapshot(ctx, `record ${id} ${cmd.op}`, ctx.timestamp))
  },
  onTimer(at, ctx) {
    ctx.emit(snapshot(ctx, `${ctx.timeDomain} timer`, at))
    ctx.listState<string>('l').add(`fired ${at}`)
    // a timer that sets a later one, due at once if the watermark is already past it
    if (ctx.timeDomain === 'event' && at % 8 === 0) ctx.registerEventTimeTimer(at + 3)
  },
}

const configArb = fc.record({
  delay: fc.integer({ min: 0, max: 10 }),
  ttl: fc.option(fc.integer({ min: 1, max: 25 }), { nil: null }),
  commands: fc.array(commandArb, { minLength: 40, maxLength: 40 }),
})

let drivers: TestDriver[] = []
afterEach(async () => {
  for (const d of drivers) await d.close()
  drivers = []
})

function assertEventTimersInOrder(outputs: RefOutput[], what: string): void {
  const fired = outputs.map((o) => o.value as Out).filter((v) => v.kind === 'event timer')
  for (let i = 1; i < fired.length; i++) {
    assert.ok(fired[i - 1].at <= fired[i].at, `${what}: event-time timers fired out of time order`)
  }
}

describe('keyed process functions against the reference model', () => {
  it('state per key, event- and processing-time timers and TTL behave as the reference', () => {
    fc.assert(
      fc.property(configArb, eventsArb(1, { ticks: true }), (c, events) => {
        const p = pipeline('process')
        p.source<string, { id: number; cmd: Command }>('in', {
          topic: 'in',
          watermarks: boundedOutOfOrderness(c.delay),
        })
          .keyBy(null, { name: 'k' })
          .process(fn as unknown as ProcessFunction<string, { id: number; cmd: Command }, Out>, {
            name: 'proc',
            ttl: c.ttl === null ? undefined : c.ttl,
          })
          .to('out')
        const d = new TestDriver(p)
        drivers.push(d)

        const model = new KeyedProcessModel(fn, c.ttl)
        const wm = new TaskWatermark(1, c.delay)
        let now = 0
        for (const [i, e] of events.entries()) {
          let expected: RefOutput[]
          if (e.kind === 'tick') {
            now += e.ms
            d.advanceTime(e.ms)
            expected = model.advanceTime(now)
          } else {
            const r = e.record
            const value = { id: r.value, cmd: c.commands[(r.value - 1) % c.commands.length] }
            d.pipeInput('in', [{ key: r.key, value, timestamp: r.timestamp }])
            expected = model.process({ ...r, value })
            const before = wm.current
            if (wm.onRecord(0, r.timestamp, now) > before)
              expected.push(...model.advanceWatermark(wm.current))
          }
          const actual = d.readOutput('out')
          assertSameOutputs(actual, expected, `event ${i}`)
          assertEventTimersInOrder(actual, `event ${i}`)
        }
        d.endInput('in')
        const actual = d.readOutput('out')
        assertSameOutputs(actual, model.advanceWatermark(Number.POSITIVE_INFINITY), 'at the end of input')
        assertEventTimersInOrder(actual, 'at the end of input')
      }),
      RUNS,
    )
  })
})
