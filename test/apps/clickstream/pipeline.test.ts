// The clickstream pipeline under the test driver, against a plain reference computed from the simulated events:
// exact per-window page views, distinct users (per minute and over five minutes), the top ten, and the late and
// dead-letter records and counts, in both emit modes and over random traffic.
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import fc from 'fast-check'
import {
  type ClickstreamResult,
  clickstreamPipeline,
  type DeadLetter,
} from '../../../apps/clickstream/pipeline.ts'
import { generateClicks, type SimEvent, type SimulatorOptions } from '../../../apps/clickstream/simulator.ts'
import type { EmitMode, SinkFactory } from '../../../src/index.ts'
import { TestDriver } from '../../../src/testing/index.ts'
import { parsedValue, type Reference, reference, top10 } from './reference.ts'

const PARTITIONS = 4

/** A sink that keeps what it is given: the driver hands sinks their records and never commits. */
function capture(): { factory: SinkFactory<unknown, ClickstreamResult>; results: ClickstreamResult[] } {
  const results: ClickstreamResult[] = []
  const factory: SinkFactory<unknown, ClickstreamResult> = () => ({
    guarantee: 'transactional',
    async open() {},
    write(records) {
      for (const r of records) results.push(r.value)
    },
    async prepare() {},
    async commit() {},
    async abort() {},
    async close() {},
  })
  return { factory, results }
}

interface Run {
  results: ClickstreamResult[]
  deadLetters: DeadLetter[]
  late: unknown[]
  counters: Record<string, number>
}

async function run(events: readonly SimEvent[], emit: EmitMode): Promise<Run> {
  const { factory, results } = capture()
  const driver = new TestDriver(clickstreamPipeline({ results: factory, emit }), {
    partitions: { clicks: PARTITIONS },
  })
  try {
    // the line's bytes as they are: the lenient serde passes a Buffer through, so invalid JSON reaches the topic
    driver.pipeInput(
      'clicks',
      events.map((e) => ({ key: e.key, value: Buffer.from(e.line), timestamp: e.at })),
    )
    driver.endInput('clicks')
    return {
      results,
      deadLetters: driver.readOutput<unknown, DeadLetter>('clickstream-dlq').map((r) => r.value),
      late: driver.readOutput('clickstream-late').map((r) => r.value),
      counters: driver.counters(),
    }
  } finally {
    await driver.close()
  }
}

/** The last result of each identity (update mode sends many per window; the last is the window's value). */
function latest(results: readonly ClickstreamResult[]): Map<string, ClickstreamResult> {
  const out = new Map<string, ClickstreamResult>()
  for (const r of results) out.set(identity(r), r)
  return out
}

function identity(r: ClickstreamResult): string {
  switch (r.kind) {
    case 'page-views':
      return `${r.kind}|${r.start}|${r.page}`
    case 'total':
      return `${r.kind}|${r.name}`
    default:
      return `${r.kind}|${r.start}`
  }
}

function expected(ref: Reference): Map<string, ClickstreamResult> {
  const out: ClickstreamResult[] = []
  for (const w of ref.windows.values()) {
    const span = { start: w.start, end: w.start + 60_000 }
    for (const [page, views] of w.views) out.push({ kind: 'page-views', ...span, page, views })
    out.push({ kind: 'active-users', ...span, users: w.users.size })
    out.push({ kind: 'top-pages', ...span, pages: top10(w.views) })
  }
  for (const [start, users] of ref.slidingUsers)
    out.push({ kind: 'active-users-5m', start, end: start + 300_000, users: users.size })
  if (ref.deadLetters > 0) out.push({ kind: 'total', name: 'dead-letters', count: ref.deadLetters })
  if (ref.late > 0) out.push({ kind: 'total', name: 'late', count: ref.late })
  return latest(out)
}

function assertMatches(actual: Run, ref: Reference): void {
  const got = latest(actual.results)
  const want = expected(ref)
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort())
  for (const [id, r] of want) assert.deepEqual(got.get(id), r, id)
  assert.equal(actual.deadLetters.length, ref.deadLetters)
  assert.equal(actual.late.length, ref.late)
  assert.equal(actual.counters['page-views.late'] ?? 0, ref.late)
}

const traffic: SimulatorOptions & { durationMs: number } = {
  seed: 42,
  rate: 25,
  durationMs: 12 * 60_000,
  delayedShare: 0.1,
  lateShare: 0.02,
  malformedShare: 0.03,
}

describe('clickstream pipeline', () => {
  const events = generateClicks(traffic)
  const ref = reference(events, PARTITIONS)
  let update: Run
  let final: Run
  before(async () => {
    update = await run(events, 'update')
    final = await run(events, 'final')
  })

  it('the traffic exercises every path', () => {
    assert.ok(ref.windows.size >= 12, `${ref.windows.size} windows`)
    assert.ok(ref.late >= 50, `${ref.late} late`)
    assert.ok(ref.deadLetters >= 300, `${ref.deadLetters} dead letters`)
    assert.ok(ref.accepted >= 15_000, `${ref.accepted} accepted`)
  })

  it('update mode: the last update of every window is the reference value, one update per click', async () => {
    const r = update
    assertMatches(r, ref)
    const count = (kind: ClickstreamResult['kind']) => r.results.filter((x) => x.kind === kind).length
    assert.equal(count('page-views'), ref.accepted)
    assert.equal(count('active-users'), ref.accepted)
    assert.equal(count('top-pages'), ref.accepted)
    assert.equal(count('active-users-5m'), ref.slidingUsers.size) // always final
  })

  it('final mode: exactly one result per window, equal to the reference', async () => {
    const r = final
    assertMatches(r, ref)
    const ids = r.results.filter((x) => x.kind !== 'total').map(identity)
    assert.equal(new Set(ids).size, ids.length, 'a window was emitted twice')
  })

  it('dead letters carry the original payload and why it was refused', async () => {
    const r = final
    const malformed = events.filter((e) => e.kind === 'malformed')
    const want = malformed.map((e) => [
      e.malformed === 'invalid-json' ? e.line : JSON.stringify(parsedValue(e)),
      e.malformed,
      e.at,
      'clicks',
    ])
    const got = r.deadLetters.map((d) => [d.payload, d.error.code, d.receivedAt, d.topic])
    const sorted = (xs: unknown[][]) => xs.map((x) => JSON.stringify(x)).sort()
    assert.deepEqual(sorted(got), sorted(want))
    for (const d of r.deadLetters) assert.ok(d.error.message.length > 0)
  })

  it('only clicks sent long after they happened are late, and almost all of those are', async () => {
    const r = final
    const lateLines = new Set(events.filter((e) => e.kind === 'late').map((e) => e.line))
    for (const c of r.late) assert.ok(lateLines.has(JSON.stringify(c)), JSON.stringify(c))
    assert.ok(r.late.length >= 0.9 * lateLines.size, `${r.late.length} of ${lateLines.size}`)
  })

  it('matches the reference on random traffic', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          rate: fc.integer({ min: 2, max: 30 }),
          minutes: fc.integer({ min: 1, max: 7 }),
          delayedShare: fc.double({ min: 0, max: 0.5, noNaN: true }),
          lateShare: fc.double({ min: 0, max: 0.3, noNaN: true }),
          // late events around every lateness boundary, not only far past them
          lateMs: fc.constantFrom<[number, number]>([5_000, 90_000], [10_000, 20_000], [60_000, 80_000]),
          malformedShare: fc.double({ min: 0, max: 0.1, noNaN: true }),
          pages: fc.integer({ min: 1, max: 40 }),
          emit: fc.constantFrom<EmitMode>('update', 'final'),
        }),
        async (o) => {
          const evs = generateClicks({ ...o, durationMs: o.minutes * 60_000, users: 50 })
          assertMatches(await run(evs, o.emit), reference(evs, PARTITIONS))
        },
      ),
      { numRuns: 12 },
    )
  })
})
