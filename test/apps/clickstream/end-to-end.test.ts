// The clickstream analyzer end to end, in real time: the simulator sends over HTTP to the server's ingest, the
// pipeline runs on the embedded log, and the in-process view ends up with every valid click counted once and every
// malformed event the server took in the dead-letter topic.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Registry } from 'prom-client'
import { createClickstreamApp, createClickstreamTopics } from '../../../apps/clickstream/app.ts'
import type { DeadLetter } from '../../../apps/clickstream/pipeline.ts'
import { sendClicks } from '../../../apps/clickstream/send.ts'
import { isSluiceError } from '../../../src/index.ts'
import { type Log, openEmbeddedLog } from '../../../src/log/index.ts'
import { PipelineMetrics } from '../../../src/metrics/pipeline-metrics.ts'
import { type RunningPipeline, runPipeline } from '../../../src/runtime/runner.ts'
import { createServer, type SluiceServer } from '../../../src/server/server.ts'

async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Committed records of a topic (offsets also count transaction markers, so they cannot be counted instead). */
async function readAll(log: Log, topic: string): Promise<unknown[]> {
  const partitions = (await log.admin().describeTopic(topic)).partitions.length
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

describe('clickstream end to end', () => {
  let dir: string
  let log: Log
  let run: RunningPipeline
  let server: SluiceServer
  let url: string
  const app = createClickstreamApp()

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-clickstream-e2e-'))
    log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
    await createClickstreamTopics(log)
    const metrics = new PipelineMetrics(new Registry())
    run = await runPipeline(app.pipeline, {
      log,
      stateDir: join(dir, 'state'),
      commitIntervalMs: 50,
      metrics,
    })
    server = createServer({ log, pipelines: [run], feeds: [app.view], registry: new Registry() })
    url = (await server.listen({ port: 0 })).url
  })
  after(async () => {
    await server?.close()
    await run?.stop()
    await log?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('counts every valid click once and dead-letters every malformed event the server took', async () => {
    const stats = await sendClicks({ url, rate: 300, durationMs: 3_000, seed: 5, malformedShare: 0.05 })
    assert.equal(stats.failed, 0, JSON.stringify(stats))
    assert.ok(stats.byKind.malformed > 10, `${stats.byKind.malformed} malformed`)
    // nothing sent in three seconds can be 80 s late: every valid click lands in a window
    const valid = stats.byKind.click + stats.byKind.delayed + stats.byKind.late
    assert.equal(stats.accepted + stats.rejected, stats.sent, JSON.stringify(stats))
    await waitFor('the view to count every click', () => app.view.snapshot().totals.views === valid)
    // the server refuses lines that are not JSON; it takes the rest, and the pipeline dead-letters them
    const taken = stats.byKind.malformed - stats.rejected
    await waitFor('the dead letters', () => app.view.snapshot().totals.deadLetters === taken)
    const deadLetters = (await readAll(log, 'clickstream-dlq')) as DeadLetter[]
    assert.equal(deadLetters.length, taken)
    for (const d of deadLetters) assert.notEqual(d.error.code, 'invalid-json') // those never got past ingest

    const snap = app.view.snapshot()
    assert.equal(snap.totals.late, 0)
    assert.equal(
      snap.windows.reduce((n, w) => n + w.views, 0),
      valid,
    )
    const latest = snap.windows[0]
    assert.ok(latest.activeUsers !== null && latest.activeUsers > 0)
    assert.ok(latest.topPages.length > 0 && latest.topPages.length <= 10)
    assert.deepEqual(
      latest.topPages.map((p) => p.views),
      latest.topPages.map((p) => p.views).sort((a, b) => b - a),
    )
    assert.equal(app.view.pageViews(latest.start)?.[latest.topPages[0].page], latest.topPages[0].views)
  })

  it('stops with a clear error when the topic is missing or nobody listens', async () => {
    await assert.rejects(
      sendClicks({ url, topic: 'no-such-topic', rate: 50, durationMs: 2_000 }),
      (err) => isSluiceError(err, 'SLUICE_ERR_TOPIC_NOT_FOUND') && err.message.includes('no-such-topic'),
    )
    await assert.rejects(
      sendClicks({ url: 'http://127.0.0.1:1', rate: 50, durationMs: 2_000 }),
      (err) => isSluiceError(err, 'SLUICE_ERR_CONNECTION') && err.message.includes('sluice serve'),
    )
  })
})
