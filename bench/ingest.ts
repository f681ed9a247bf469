// Server ingest and end-to-end latency: sustained HTTP ingest into the embedded log through the real server on
// loopback (batches of 1 and of 500, several connections), and ingest-to-Redis latency of the clickstream pipeline
// under exactly-once at fixed rates. The load runs in a worker thread (bench/ingest/load.ts).
// Run with `npm run bench:ingest -- [--quick] [--reps N] [--seconds S] [--rates 10000,50000]`; see --help.
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { Registry } from 'prom-client'
import { createClickstreamApp, createClickstreamTopics } from '../apps/clickstream/app.ts'
import { openEmbeddedLog } from '../src/log/index.ts'
import { PipelineMetrics } from '../src/metrics/pipeline-metrics.ts'
import { runPipeline } from '../src/runtime/runner.ts'
import { createServer } from '../src/server/server.ts'
import { startRedis } from '../test/connectors/redis-server.ts'
import type { LoadJob, LoadResult } from './ingest/load.ts'

const HELP = `usage: node bench/ingest.ts [options]
  --quick          one repetition, 2 s per ingest case, 8 s per latency case (a smoke run)
  --reps N         repetitions of each ingest case; medians are reported (default 3)
  --seconds S      duration of each ingest case (default 5)
  --latency-seconds S  duration of each latency case after a 3 s warm-up (default 20)
  --rates R        latency case rates, events/s (default 10000,50000)
  --no-latency     only the ingest cases (no redis-server needed)
  --no-ingest      only the latency cases
  --no-redis       latency cases with the in-process results only (to see what Redis costs)
`

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    seconds: { type: 'string' },
    'latency-seconds': { type: 'string' },
    rates: { type: 'string', default: '10000,50000' },
    'no-latency': { type: 'boolean', default: false },
    'no-redis': { type: 'boolean', default: false },
    'no-ingest': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  process.stdout.write(HELP)
  process.exit(0)
}
const reps = Number(values.reps ?? (values.quick ? 1 : 3))
const seconds = Number(values.seconds ?? (values.quick ? 2 : 5))
const latencySeconds = Number(values['latency-seconds'] ?? (values.quick ? 8 : 20))
const rates = values.rates.split(',').map(Number)
const WARMUP_S = 3

function load(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./ingest/load.ts', import.meta.url), { workerData: job })
    worker.once('message', (r: LoadResult) => {
      resolve(r)
      void worker.terminate()
    })
    worker.once('error', reject)
  })
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** Ingest throughput: the server on the embedded log, no pipeline, the clicks topic with 4 partitions. */
async function ingestCases(): Promise<{ batch: number; connections: number; rates: number[] }[]> {
  const out = []
  for (const [batch, connections] of [
    [1, 16],
    [500, 8],
  ] as const) {
    const runs: number[] = []
    for (let rep = 0; rep < reps; rep++) {
      const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-ingest-'))
      const log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
      await createClickstreamTopics(log, { partitions: 4 })
      const server = createServer({ log, dashboardDir: null })
      const { url } = await server.listen({ port: 0 })
      const r = await load({ kind: 'throughput', url, batch, connections, seconds })
      await server.close()
      await log.close()
      rmSync(dir, { recursive: true, force: true })
      if (r.failed > 0) throw new Error(`batch ${batch}: ${r.failed} events failed`)
      runs.push(r.accepted / (r.elapsedMs / 1000))
      process.stderr.write(
        `ingest batch=${batch} conns=${connections} rep ${rep + 1}: ${Math.round(runs.at(-1)!)} events/s\n`,
      )
    }
    out.push({ batch, connections, rates: runs })
  }
  return out
}

interface Buckets {
  le: number[]
  counts: number[]
}

async function latencyBuckets(registry: Registry): Promise<Buckets> {
  const m = registry.getSingleMetric('sluice_end_to_end_latency_seconds')!
  const data = await m.get()
  const rows = (
    data.values as { metricName?: string; labels: Record<string, string | number>; value: number }[]
  )
    .filter((v) => v.metricName?.endsWith('_bucket'))
    .map((v) => ({ le: Number(v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : v.labels.le), n: v.value }))
    .sort((a, b) => a.le - b.le)
  // one pipeline: rows are already one series
  return { le: rows.map((r) => r.le), counts: rows.map((r) => r.n) }
}

/** Quantile of the difference of two cumulative histograms, interpolated inside a bucket as Prometheus does. */
function quantile(q: number, a: Buckets, b: Buckets): number {
  const counts = b.counts.map((n, i) => n - (a.counts[i] ?? 0))
  const total = counts.at(-1)!
  const rank = q * total
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] >= rank) {
      const lo = i === 0 ? 0 : b.le[i - 1]
      const hi = b.le[i]
      if (!Number.isFinite(hi)) return lo
      const below = i === 0 ? 0 : counts[i - 1]
      return lo + ((hi - lo) * (rank - below)) / Math.max(1, counts[i] - below)
    }
  }
  return Number.NaN
}

function fractionUnder(seconds: number, a: Buckets, b: Buckets): number {
  const i = b.le.indexOf(seconds)
  const total = b.counts.at(-1)! - a.counts.at(-1)!
  return (b.counts[i] - a.counts[i]) / total
}

async function latencyCase(rate: number, redisUrl: string | undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-e2e-'))
  const log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
  await createClickstreamTopics(log, { partitions: 4 })
  const registry = new Registry()
  const metrics = new PipelineMetrics(registry)
  const app = createClickstreamApp({ redisUrl, name: `bench-${rate}` })
  const run = await runPipeline(app.pipeline, {
    log,
    stateDir: join(dir, 'state'),
    guarantee: 'exactly-once',
    metrics,
  })
  const server = createServer({ log, pipelines: [run], registry, dashboardDir: null })
  const { url } = await server.listen({ port: 0 })
  const loading = load({
    kind: 'paced',
    url,
    rate,
    connections: 4,
    seconds: WARMUP_S + latencySeconds,
    tickMs: 5,
  })
  await new Promise((r) => setTimeout(r, WARMUP_S * 1000))
  const before = await latencyBuckets(registry)
  const commitsBefore = (await registry.getSingleMetric('sluice_commit_duration_seconds')!.get()).values
  // the pipeline's own source rate (a 5 s moving window), sampled once a second while the load runs
  const processed: number[] = []
  const sampler = setInterval(() => processed.push(run.status().sourceRecordsPerSecond), 1000)
  const sent = await loading
  clearInterval(sampler)
  // what was sent in the window must be committed before the window is closed: wait (bounded) for lag 0
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline && run.status().partitions.some((p) => (p.lag ?? 0) > 0))
    await new Promise((r) => setTimeout(r, 50))
  await new Promise((r) => setTimeout(r, 500))
  const after = await latencyBuckets(registry)
  const commitsAfter = (await registry.getSingleMetric('sluice_commit_duration_seconds')!.get()).values
  const sum = (vs: typeof commitsAfter, suffix: string) =>
    (vs as { metricName?: string; value: number }[])
      .filter((v) => v.metricName?.endsWith(suffix))
      .reduce((n, v) => n + v.value, 0)
  const commits = sum(commitsAfter, '_count') - sum(commitsBefore, '_count')
  const commitMs = ((sum(commitsAfter, '_sum') - sum(commitsBefore, '_sum')) / Math.max(1, commits)) * 1000
  const status = run.status()
  await run.stop()
  await server.close()
  await log.close()
  rmSync(dir, { recursive: true, force: true })
  return {
    rate,
    achieved: sent.accepted / (sent.elapsedMs / 1000),
    processed:
      processed.length > 0 ? median(processed.slice(Math.min(processed.length - 1, WARMUP_S + 5))) : 0,
    failed: sent.failed,
    behindMs: sent.behindMs,
    samples: after.counts.at(-1)! - before.counts.at(-1)!,
    p50: quantile(0.5, before, after),
    p99: quantile(0.99, before, after),
    under200: fractionUnder(0.2, before, after),
    commits,
    commitMs,
    recentP50: status.latencyMs.p50,
    recentP99: status.latencyMs.p99,
  }
}

async function main(): Promise<void> {
  const machine = `${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`
  process.stdout.write(`${machine}\n${new Date().toISOString()}\n\n`)
  const ingest = values['no-ingest'] ? [] : await ingestCases()
  process.stdout.write('| batch | connections | events/s (median) | runs |\n| ---: | ---: | ---: | --- |\n')
  for (const c of ingest) {
    process.stdout.write(
      `| ${c.batch} | ${c.connections} | ${Math.round(median(c.rates)).toLocaleString('en')} | ${c.rates.map((r) => Math.round(r).toLocaleString('en')).join(', ')} |\n`,
    )
  }
  if (values['no-latency']) return
  const redis = values['no-redis'] ? null : await startRedis()
  process.stdout.write(
    `\nlatency: clickstream pipeline, exactly-once, results to ${redis ? 'Redis and the view' : 'the in-process view only'}\n`,
  )
  try {
    process.stdout.write(
      '\n| target events/s | sent events/s | processed events/s | samples | p50 ms | p99 ms | ≤ 200 ms | commits | mean commit ms | sender behind ms |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n',
    )
    for (const rate of rates) {
      const r = await latencyCase(rate, redis?.url)
      process.stdout.write(
        `| ${rate.toLocaleString('en')} | ${Math.round(r.achieved).toLocaleString('en')} | ${Math.round(r.processed).toLocaleString('en')} | ${r.samples.toLocaleString('en')} | ${(r.p50 * 1000).toFixed(0)} | ${(r.p99 * 1000).toFixed(0)} | ${(r.under200 * 100).toFixed(1)}% | ${r.commits} | ${r.commitMs.toFixed(1)} | ${Math.round(r.behindMs)} |\n`,
      )
      if (r.failed > 0) process.stdout.write(`  (${r.failed} events failed)\n`)
    }
  } finally {
    await redis?.stop()
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`)
  process.exit(1)
})
