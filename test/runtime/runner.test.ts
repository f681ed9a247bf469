// The runner on the embedded log: the same pipeline gives the same results as under the test driver, survives a
// stop and restart without duplicates or losses (state restored from changelogs), and refuses bad setups clearly.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { boundedOutOfOrderness, type Pipeline, pipeline, tumbling } from '../../src/index.ts'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import { type ProcessingGuarantee, runPipeline } from '../../src/runtime/runner.ts'
import { lmdbState } from '../../src/state/backends/lmdb.ts'
import { memoryState } from '../../src/state/backends/memory.ts'
import { TestDriver } from '../../src/testing/index.ts'

interface Click {
  user: string
  page: string
  ts: number
}

let dir: string
let log: Log
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-runner-'))
  log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
})
afterEach(async () => {
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

function clicksPipeline(): Pipeline {
  const p = pipeline('clickstream')
  const clicks = p.source<string, Click>('clicks', {
    topic: 'clicks',
    timestamp: (c) => c.ts,
    watermarks: boundedOutOfOrderness('2s'),
  })
  clicks
    .keyBy((c) => c.page, { name: 'by-page' })
    .window(tumbling('10s'), { name: 'views' })
    .count()
    .map((n, w) => ({ page: w.key, start: w.start, views: n }))
    .to('views')
  clicks
    .keyBy(null, { name: 'by-user' })
    .process<{ user: string; nth: number }>(
      {
        process(c, ctx) {
          const seen = ctx.valueState<number>('seen')
          const n = (seen.get() ?? 0) + 1
          seen.set(n)
          if (n % 5 === 0) ctx.emit({ user: c.user, nth: n })
        },
      },
      { name: 'every-fifth' },
    )
    .to('milestones')
  return p
}

function makeClicks(n: number, from = 0): { key: string; value: Click; partition?: number }[] {
  const out = []
  for (let i = from; i < from + n; i++) {
    const user = `u${i % 11}`
    out.push({ key: user, value: { user, page: `/p${(i * 7) % 5}`, ts: i * 250 + ((i * 37) % 1500) } })
  }
  return out
}

/** A record per partition far in the future, so every window of the data closes. */
function closers(partitions: number, ts: number): { key: string; value: Click; partition: number }[] {
  return Array.from({ length: partitions }, (_, partition) => ({
    key: 'closer',
    value: { user: 'closer', page: '/closer', ts },
    partition,
  }))
}

async function produce(
  topic: string,
  records: { key: string; value: unknown; partition?: number }[],
): Promise<void> {
  const producer = log.producer()
  await producer.send(
    records.map((r) => ({
      topic,
      partition: r.partition,
      key: Buffer.from(JSON.stringify(r.key)),
      value: Buffer.from(JSON.stringify(r.value)),
    })),
  )
  await producer.close()
}

async function readAll(topic: string, partitions: number): Promise<unknown[]> {
  const c = log.consumer({ isolationLevel: 'read_committed' })
  const tps = Array.from({ length: partitions }, (_, partition) => ({ topic, partition }))
  await c.assign(tps)
  for (const tp of tps) await c.seek(tp, 'earliest')
  const out: unknown[] = []
  for (;;) {
    const batch = await c.poll({ timeoutMs: 0 })
    if (batch.length === 0) break
    for (const r of batch) out.push(JSON.parse(r.value!.toString()))
  }
  await c.close()
  return out
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const sortJson = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).sort()

async function expected(
  input: ReturnType<typeof makeClicks>,
): Promise<{ views: unknown[]; milestones: unknown[] }> {
  const d = new TestDriver(clicksPipeline(), { partitions: { clicks: 3 } })
  d.pipeInput('clicks', input)
  const result = {
    views: d.readOutput('views').map((r) => r.value),
    milestones: d.readOutput('milestones').map((r) => r.value),
  }
  await d.close()
  return result
}

for (const [guarantee, backend] of [
  ['exactly-once', 'memory'],
  ['at-least-once', 'memory'],
  ['exactly-once', 'lmdb'],
] as [ProcessingGuarantee, 'memory' | 'lmdb'][]) {
  describe(`runner on the embedded log (${guarantee}, ${backend} state)`, () => {
    it('gives the same results as the test driver, across a stop and restart', async () => {
      const admin = log.admin()
      await admin.createTopic('clicks', { partitions: 3 })
      await admin.createTopic('views', { partitions: 1 })
      await admin.createTopic('milestones', { partitions: 1 })
      const first = makeClicks(300)
      const second = makeClicks(300, 300)
      const input = [...first, ...second, ...closers(3, 10_000_000)]
      const want = await expected(input)
      assert.ok(want.views.length > 10 && want.milestones.length > 10)

      const state = backend === 'lmdb' ? lmdbState() : memoryState()
      const options = { log, stateDir: join(dir, 'state'), guarantee, commitIntervalMs: 20, state }
      await produce('clicks', first)
      let run = await runPipeline(clicksPipeline(), options)
      await waitFor('the first half to be committed', async () => {
        const offsets = [...run.committedOffsets().entries()].filter(([k]) => k.startsWith('clicks:'))
        return offsets.reduce((n, [, o]) => n + o, 0) === first.length
      })
      await run.stop()

      // a new run restores window and process state from the changelogs and goes on from the committed offsets
      await produce('clicks', [...second, ...closers(3, 10_000_000)])
      run = await runPipeline(clicksPipeline(), options)
      const restored = run.restoreProgress().filter((r) => r.store === 'every-fifth')
      assert.ok(restored.length > 0 && restored.every((r) => r.done && r.percent === 100))
      if (backend === 'memory') {
        assert.ok(
          restored.reduce((n, r) => n + r.records, 0) > 0,
          'the process state came back from its changelog',
        )
      } else {
        // the state on disk matched the last commit: nothing to replay
        assert.ok(
          restored.every((r) => r.fromLocalSnapshot && r.records === 0),
          JSON.stringify(restored),
        )
      }
      await waitFor('all views', async () => (await readAll('views', 1)).length >= want.views.length)
      await waitFor(
        'all milestones',
        async () => (await readAll('milestones', 1)).length >= want.milestones.length,
      )
      await run.stop()
      assert.deepEqual(sortJson(await readAll('views', 1)), sortJson(want.views))
      assert.deepEqual(sortJson(await readAll('milestones', 1)), sortJson(want.milestones))
    })
  })
}

describe('runner setup errors', () => {
  it('names a missing source topic', async () => {
    await assert.rejects(runPipeline(clicksPipeline(), { log, stateDir: join(dir, 'state') }), {
      code: 'SLUICE_ERR_TOPIC_NOT_FOUND',
      message: /reads topic clicks/,
    })
  })

  it('refuses an internal topic whose partition count disagrees with the plan', async () => {
    const admin = log.admin()
    await admin.createTopic('clicks', { partitions: 3 })
    await admin.createTopic('views', { partitions: 1 })
    await admin.createTopic('milestones', { partitions: 1 })
    await admin.createTopic('clickstream-by-page-repartition', { partitions: 2 })
    await assert.rejects(runPipeline(clicksPipeline(), { log, stateDir: join(dir, 'state') }), {
      code: 'SLUICE_ERR_INVALID_PIPELINE',
      message: /clickstream-by-page-repartition of pipeline clickstream has 2 partitions/,
    })
  })
})

describe('runner restarts', () => {
  it('gives a restarted task the watermarks of upstream tasks that will send no more', async () => {
    const admin = log.admin()
    await admin.createTopic('clicks', { partitions: 3 })
    await admin.createTopic('views', { partitions: 1 })
    await admin.createTopic('milestones', { partitions: 1 })
    const data = makeClicks(300)
    const [end0, ...endRest] = closers(3, 10_000_000)
    const want = await expected([...data, end0, ...endRest])
    // partition 0 ends before the stop: its task sends its last watermark marker then, and never again
    await produce('clicks', [...data, end0])
    const options = { log, stateDir: join(dir, 'state'), commitIntervalMs: 20 }
    let run = await runPipeline(clicksPipeline(), options)
    const repartition = 'clickstream-by-page-repartition'
    await waitFor('the window step to commit every marker', async () => {
      const committed = run.committedOffsets()
      const input = [0, 1, 2].reduce((n, p) => n + (committed.get(`clicks:${p}`) ?? 0), 0)
      if (input < data.length + 1) return false
      for (let p = 0; p < 3; p++) {
        const c = log.consumer({ isolationLevel: 'read_committed' })
        await c.assign([{ topic: repartition, partition: p }])
        await c.seek({ topic: repartition, partition: p }, committed.get(`${repartition}:${p}`) ?? 0)
        const left = await c.poll({ timeoutMs: 0, maxRecords: 1 })
        await c.close()
        if (left.length > 0) return false
      }
      return true
    })
    await run.stop()

    await produce('clicks', endRest)
    run = await runPipeline(clicksPipeline(), options)
    await waitFor('all views', async () => (await readAll('views', 1)).length >= want.views.length, 5_000)
    await run.stop()
    assert.deepEqual(sortJson(await readAll('views', 1)), sortJson(want.views))
  })
})

describe('runner status and metrics', () => {
  it('reports lag, throughput, latency, watermarks and Prometheus series', async () => {
    const { Registry } = await import('prom-client')
    const { PipelineMetrics } = await import('../../src/metrics/pipeline-metrics.ts')
    const admin = log.admin()
    await admin.createTopic('clicks', { partitions: 3 })
    await admin.createTopic('views', { partitions: 1 })
    await admin.createTopic('milestones', { partitions: 1 })
    const input = makeClicks(200)
    await produce('clicks', input)
    const registry = new Registry()
    const run = await runPipeline(clicksPipeline(), {
      log,
      stateDir: join(dir, 'state'),
      commitIntervalMs: 20,
      metrics: new PipelineMetrics(registry),
    })
    await waitFor('everything processed', async () => {
      const s = run.status()
      const clicks = s.partitions.filter((p) => p.topic === 'clicks')
      return clicks.length === 3 && clicks.every((p) => p.lag === 0) && s.recordsIn >= input.length
    })
    const status = run.status()
    assert.equal(status.state, 'running')
    assert.equal(status.guarantee, 'exactly-once')
    assert.ok(status.latencyMs.p50 !== null && status.latencyMs.p99! >= status.latencyMs.p50)
    assert.ok(status.tasks.length === 6)
    assert.ok((status.recordsOut['clickstream-by-page-repartition'] ?? 0) >= input.length)
    const text = await registry.metrics()
    assert.match(text, /sluice_records_in_total\{pipeline="clickstream",task="0_0"\} \d+/)
    assert.match(text, /sluice_consumer_lag_records\{pipeline="clickstream",topic="clicks",partition="0"\} 0/)
    assert.match(text, /sluice_end_to_end_latency_seconds_count\{pipeline="clickstream"\} [1-9]/)
    assert.match(
      text,
      /sluice_commit_duration_seconds_count\{pipeline="clickstream",guarantee="exactly-once"\} [1-9]/,
    )
    await run.stop()
    assert.equal(run.status().state, 'stopped')
  })
})

describe('two steps reading one repartition topic', () => {
  it('both get every record', async () => {
    const admin = log.admin()
    await admin.createTopic('in', { partitions: 2 })
    await admin.createTopic('a', { partitions: 1 })
    await admin.createTopic('b', { partitions: 1 })
    const p = pipeline('fanout')
    const keyed = p
      .source<string, number>('in', { topic: 'in' })
      .keyBy((n) => `k${n % 3}`, { name: 'by-mod' })
    keyed.map((n) => n).to('a')
    keyed.map((n) => -n).to('b')
    await produce(
      'in',
      Array.from({ length: 30 }, (_, i) => ({ key: `x${i}`, value: i })),
    )
    const run = await runPipeline(p, { log, stateDir: join(dir, 'state'), commitIntervalMs: 10 })
    await waitFor(
      'both outputs',
      async () => (await readAll('a', 1)).length === 30 && (await readAll('b', 1)).length === 30,
    )
    await run.stop()
  })
})
