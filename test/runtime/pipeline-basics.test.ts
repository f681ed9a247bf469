// End-to-end behaviour of small pipelines under the test driver: stateless steps, keyBy through a repartition
// topic, windows closing on the watermark, late records, branch and merge.
import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import type { Windowed } from '../../src/index.ts'
import { boundedOutOfOrderness, count, pipeline, session, sum, tumbling } from '../../src/index.ts'
import { TestDriver } from '../../src/testing/index.ts'

interface Click {
  user: string
  page: string
  ts: number
}

let drivers: TestDriver[] = []
afterEach(async () => {
  for (const d of drivers) await d.close()
  drivers = []
})

function drive(p: ReturnType<typeof pipeline>, partitions: Record<string, number> = {}): TestDriver {
  const d = new TestDriver(p, { partitions })
  drivers.push(d)
  return d
}

describe('pipelines under the test driver', () => {
  it('map, filter and flatMap transform values in order', () => {
    const p = pipeline('stateless')
    p.source<string, number>('numbers', { topic: 'numbers' })
      .filter((n) => n % 2 === 0)
      .map((n) => n * 10)
      .flatMap((n) => [n, n + 1])
      .to('out')
    const d = drive(p)
    d.pipeInput(
      'numbers',
      [1, 2, 3, 4].map((value) => ({ key: 'k', value, timestamp: value })),
    )
    assert.deepEqual(
      d.readOutput<string, number>('out').map((r) => r.value),
      [20, 21, 40, 41],
    )
  })

  it('counts per page in tumbling windows across a repartition, closing windows on the watermark', () => {
    const p = pipeline('clicks')
    const views = p
      .source<string, Click>('clicks', {
        topic: 'clicks',
        timestamp: (c) => c.ts,
        watermarks: boundedOutOfOrderness(1000),
      })
      .keyBy((c) => c.page, { name: 'by-page' })
      .window(tumbling('1m'), { name: 'views' })
      .count()
    views.to('page-views')
    const d = drive(p, { clicks: 3 })
    const t0 = 1_700_000_040_000 - (1_700_000_040_000 % 60_000)
    d.pipeInput('clicks', [
      { key: 'u1', value: { user: 'u1', page: '/a', ts: t0 + 1000 } },
      { key: 'u2', value: { user: 'u2', page: '/a', ts: t0 + 2000 } },
      { key: 'u3', value: { user: 'u3', page: '/b', ts: t0 + 3000 } },
    ])
    assert.deepEqual(
      d.readOutput('page-views'),
      [],
      'nothing fires before the watermark passes the window end',
    )
    // every partition must pass the window end: the watermark is the minimum over partitions
    for (let partition = 0; partition < 3; partition++) {
      d.pipeInput('clicks', [{ key: 'x', value: { user: 'x', page: '/c', ts: t0 + 70_000 }, partition }])
    }
    const out = d.readOutput<Windowed<string>, number>('page-views')
    const counts = Object.fromEntries(out.map((r) => [r.key.key, r.value]))
    assert.deepEqual(counts, { '/a': 2, '/b': 1 })
    for (const r of out) {
      assert.equal(r.key.start, t0)
      assert.equal(r.key.end, t0 + 60_000)
      assert.equal(r.timestamp, t0 + 59_999)
    }
  })

  it('sends records beyond allowed lateness to the late side output and counts them', () => {
    const p = pipeline('late')
    const sums = p
      .source<string, number>('in', { topic: 'in' })
      .keyBy(null, { name: 'k' })
      .window(tumbling('10s'), { name: 'sums', lateness: '5s' })
      .aggregate(sum((v: number) => v))
    sums.to('sums')
    sums.late().to('late')
    const d = drive(p)
    d.pipeInput('in', [
      { key: 'a', value: 1, timestamp: 1000 },
      { key: 'a', value: 2, timestamp: 12_000 }, // W = 11_999: window [0,10s) done at 9_999 + 5_000 → not yet
      { key: 'a', value: 3, timestamp: 5000 }, // within lateness: updates [0,10s)
      { key: 'a', value: 4, timestamp: 16_000 }, // W = 15_999 ≥ 14_999: [0,10s) fires
      { key: 'a', value: 5, timestamp: 2000 }, // too late
    ])
    assert.deepEqual(
      d.readOutput<Windowed<string>, number>('sums').map((r) => [r.key.start, r.value]),
      [[0, 4]],
    )
    assert.deepEqual(
      d.readOutput<string, number>('late').map((r) => r.value),
      [5],
    )
    assert.equal(d.counters()['sums.late'], 1)
    d.endInput('in')
    assert.deepEqual(
      d.readOutput<Windowed<string>, number>('sums').map((r) => [r.key.start, r.value]),
      [[10_000, 6]],
    )
  })

  it('merges session windows bridged by a record', () => {
    const p = pipeline('sessions')
    p.source<string, number>('in', { topic: 'in', watermarks: boundedOutOfOrderness('10s') })
      .keyBy(null, { name: 'k' })
      .window(session({ gap: '10s' }), { name: 's' })
      .aggregate(count())
      .to('out')
    const d = drive(p)
    d.pipeInput('in', [
      { key: 'a', value: 1, timestamp: 0 },
      { key: 'a', value: 1, timestamp: 15_000 },
      { key: 'a', value: 1, timestamp: 8_000 }, // bridges [0,10s) and [15s,25s)
    ])
    d.endInput('in')
    assert.deepEqual(
      d.readOutput<Windowed<string>, number>('out').map((r) => [r.key.start, r.key.end, r.value]),
      [[0, 25_000, 3]],
    )
  })

  it('branch routes to the first matching predicate; merge joins streams back', () => {
    const p = pipeline('branches')
    const [small, big] = p.source<string, number>('in', { topic: 'in' }).branch([(v) => v < 10])
    small
      .map((v) => `small ${v}`)
      .merge([big.map((v) => `big ${v}`)])
      .to('out')
    const d = drive(p)
    d.pipeInput(
      'in',
      [3, 30, 4].map((value) => ({ key: 'k', value })),
    )
    assert.deepEqual(
      d.readOutput<string, string>('out').map((r) => r.value),
      ['small 3', 'big 30', 'small 4'],
    )
  })

  it('describe() shows sub-topologies, topics and stores', () => {
    const p = pipeline('shape')
    p.source<string, Click>('clicks', { topic: 'clicks' })
      .keyBy((c) => c.page, { name: 'by-page' })
      .window(tumbling('1m'), { name: 'views' })
      .count()
      .to('out')
    const t = p.build(() => 4)
    const text = t.describe()
    assert.match(text, /Sub-topology 0 \(4 tasks\)/)
    assert.match(text, /Repartition: by-page \(topic: shape-by-page-repartition\)/)
    assert.match(
      text,
      /Window: views \(tumbling size 60000ms, count, lateness 0ms, emit final, store: views, changelog: shape-views-changelog\)/,
    )
    assert.equal(t.subtopologies.length, 2)
  })
})
