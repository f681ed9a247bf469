// A real Prometheus scrapes the server's /metrics while the clickstream pipeline runs: the target is up and the
// sluice series are queryable through Prometheus's own API, so the exposition format is what Prometheus accepts.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createClickstreamApp, createClickstreamTopics } from '../../apps/clickstream/app.ts'
import { sendClicks } from '../../apps/clickstream/send.ts'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import { type RunningPipeline, runPipeline } from '../../src/runtime/runner.ts'
import { createServer, type SluiceServer } from '../../src/server/server.ts'
import { type PrometheusServer, skipWithoutPrometheus, startPrometheus } from './prometheus-server.ts'

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      if (await check()) return
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`,
      )
    await new Promise((r) => setTimeout(r, 250))
  }
}

describe('Prometheus scrapes /metrics', { skip: skipWithoutPrometheus() }, () => {
  let dir: string
  let log: Log
  let run: RunningPipeline
  let server: SluiceServer
  let prometheus: PrometheusServer
  const sending = new AbortController()
  let simulator: Promise<unknown> = Promise.resolve()

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-prometheus-test-'))
    log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
    await createClickstreamTopics(log, { partitions: 2 })
    const app = createClickstreamApp()
    run = await runPipeline(app.pipeline, { log, stateDir: join(dir, 'state'), commitIntervalMs: 100 })
    server = createServer({ log, pipelines: [run], feeds: [app.view], dashboardDir: null })
    const { port } = await server.listen({ port: 0 })
    simulator = sendClicks({
      url: `http://127.0.0.1:${port}`,
      rate: 100,
      seed: 3,
      signal: sending.signal,
    }).catch(() => {})
    prometheus = await startPrometheus({ job: 'sluice', targets: [`127.0.0.1:${port}`] })
  })
  after(async () => {
    sending.abort()
    await simulator
    await prometheus?.stop()
    await run?.stop()
    await server?.close()
    await log?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('sees the target up and the pipeline series', async () => {
    await waitFor('up{job="sluice"} == 1', async () => {
      const r = await prometheus.query('up{job="sluice"} == 1')
      return r.length === 1
    })
    await waitFor('sluice_records_in_total > 0', async () => {
      const r = await prometheus.query('sum(sluice_records_in_total{job="sluice"}) > 0')
      return r.length === 1
    })
    const latency = await prometheus.query('sluice_end_to_end_latency_seconds_count{job="sluice"}')
    assert.ok(latency.length > 0, 'the end-to-end latency histogram is scraped')
    const names = await fetch(`${prometheus.url}/api/v1/label/__name__/values`).then(
      (r) => r.json() as Promise<{ data: string[] }>,
    )
    for (const name of ['sluice_records_in_total', 'sluice_commits_total', 'sluice_consumer_lag_records'])
      assert.ok(names.data.includes(name), `${name} is known to Prometheus`)
  })
})
