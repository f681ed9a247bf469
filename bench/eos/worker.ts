// The child process of bench/eos.ts: one run of the pipeline under one guarantee and commit interval, on a fresh
// embedded log. `throughput` appends --records clicks first and times the pipeline until a read_committed reader
// has seen an output for every one; `latency` feeds clicks at a steady --rate while the pipeline runs and reads
// the outputs as they become visible, each one's latency being the time since its click was sent.
import { parseArgs } from 'node:util'
import type { ProcessingGuarantee } from '../../src/index.ts'
import { type Log, type LogConsumer, openEmbeddedLog } from '../../src/log/index.ts'
import { type RunningPipeline, type RunOptions, runPipeline } from '../../src/runtime/runner.ts'
import type { StateBackendFactory } from '../../src/state/backend.ts'
import { lmdbState } from '../../src/state/backends/lmdb.ts'
import { memoryState } from '../../src/state/backends/memory.ts'
import { Meter } from '../log/meter.ts'
import { COUNTS_TOPIC, click, clicksPipeline, INPUT_TOPIC, SEEN_TOPIC, type Seen } from './pipeline.ts'

const { values } = parseArgs({
  options: {
    phase: { type: 'string' },
    guarantee: { type: 'string', default: 'exactly-once' },
    'commit-interval': { type: 'string' },
    'data-dir': { type: 'string' },
    'state-dir': { type: 'string' },
    state: { type: 'string', default: 'lmdb' },
    partitions: { type: 'string', default: '4' },
    records: { type: 'string', default: '1000000' },
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '20' },
    'warmup-s': { type: 'string', default: '3' },
    'timeout-s': { type: 'string', default: '300' },
    // an experiment, not a setting: flush local state at most this often instead of at every commit
    'flush-every-ms': { type: 'string' },
  },
})
const partitions = Number(values.partitions)
const timeoutMs = Number(values['timeout-s']) * 1000

const report = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`)

setTimeout(() => {
  report('error', { message: `worker timed out after ${timeoutMs} ms` })
  process.exit(2)
}, timeoutMs).unref()

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A pipeline that fails ends the run at once, rather than leaving the reader waiting for outputs until the timeout. */
function failFast(run: RunningPipeline): RunningPipeline {
  run.done.catch((err: unknown) => {
    report('error', { message: `the pipeline failed: ${(err as Error).stack ?? String(err)}` })
    process.exit(1)
  })
  return run
}

function clickRecords(from: number, to: number, t: number) {
  const out = []
  for (let i = from; i < to; i++) {
    const c = click(i, t)
    out.push({
      topic: INPUT_TOPIC,
      key: Buffer.from(JSON.stringify(c.key)),
      value: Buffer.from(JSON.stringify(c.value)),
    })
  }
  return out
}

async function seenReader(log: Log): Promise<LogConsumer> {
  const consumer = log.consumer({ isolationLevel: 'read_committed' })
  const tps = Array.from({ length: partitions }, (_, partition) => ({ topic: SEEN_TOPIC, partition }))
  await consumer.assign(tps)
  for (const tp of tps) await consumer.seek(tp, 'earliest')
  return consumer
}

/** Time the runner's flushes of local state blocked the thread: with lmdb, each is a synced transaction. */
const flushes = { count: 0, ms: 0 }

/**
 * Times each backend's flush(). With `everyMs` (an experiment), flush() does nothing unless that long passed since
 * the last one that did: the runner records the changelog offset a store matches right before each flush, so a
 * skipped flush only leaves an older snapshot, and a restart replays more of the changelog.
 */
function instrumented(factory: StateBackendFactory, everyMs: number | undefined): StateBackendFactory {
  return {
    kind: factory.kind,
    open(options) {
      const backend = factory.open(options)
      let last = performance.now()
      const flush = async () => {
        const t0 = performance.now()
        if (everyMs !== undefined && t0 - last < everyMs) return
        last = t0
        // the time until flush() returns is the time it blocked the thread (lmdb commits synchronously);
        // measured after the await it would also count the flushes of the other stores
        const done = backend.flush()
        flushes.count++
        flushes.ms += performance.now() - t0
        await done
      }
      // every other method as it is, bound to the backend (whose private fields need it as `this`)
      return new Proxy(backend, {
        get(target, property) {
          if (property === 'flush') return flush
          const value = Reflect.get(target, property, target)
          return typeof value === 'function' ? value.bind(target) : value
        },
      })
    },
  }
}

/** Creates the topics; returns the runner's options for this run. */
async function setUp(log: Log): Promise<RunOptions> {
  const admin = log.admin()
  for (const topic of [INPUT_TOPIC, SEEN_TOPIC, COUNTS_TOPIC]) await admin.createTopic(topic, { partitions })
  const every = values['flush-every-ms'] === undefined ? undefined : Number(values['flush-every-ms'])
  return {
    log,
    state: instrumented(values.state === 'memory' ? memoryState() : lmdbState(), every),
    stateDir: values['state-dir'],
    guarantee: values.guarantee as ProcessingGuarantee,
    commitIntervalMs: values['commit-interval'] === undefined ? undefined : Number(values['commit-interval']),
  }
}

async function throughput(log: Log): Promise<void> {
  const options = await setUp(log)
  const records = Number(values.records)
  const producer = log.producer()
  const t = Date.now()
  for (let from = 0; from < records; from += 10_000)
    await producer.send(clickRecords(from, Math.min(records, from + 10_000), t))
  await producer.close()
  const reader = await seenReader(log)
  flushes.count = flushes.ms = 0
  const meter = new Meter()
  const run = failFast(await runPipeline(clicksPipeline(), options))
  let seen = 0
  const deadline = performance.now() + timeoutMs
  while (seen < records && performance.now() < deadline) seen += (await reader.poll({ timeoutMs: 50 })).length
  const phase = meter.phase(records, 0)
  report('result', {
    records,
    seen,
    ms: phase.seconds * 1000,
    cpuMs: phase.cpu * phase.seconds * 1000,
    others: phase.others,
    flushes: flushes.count,
    flushMs: flushes.ms,
  })
  await reader.close()
  await run.stop()
}

async function latency(log: Log): Promise<void> {
  const options = await setUp(log)
  const rate = Number(values.rate)
  const seconds = Number(values.seconds)
  const total = Math.round(rate * seconds)
  const reader = await seenReader(log)
  const run = failFast(await runPipeline(clicksPipeline(), options))
  const producer = log.producer()
  const t0 = Date.now()
  const measureFrom = t0 + Number(values['warmup-s']) * 1000
  let produced = 0
  // Sends what is due every few ms: a steady rate, whatever the event loop's hiccups.
  const producing = (async () => {
    while (produced < total && Date.now() - t0 < seconds * 1000 + 10_000) {
      const due = Math.min(total, Math.floor(((Date.now() - t0) * rate) / 1000))
      if (due > produced) {
        const to = Math.min(due, produced + 5000)
        await producer.send(clickRecords(produced, to, Date.now()))
        produced = to
      }
      await sleep(2)
    }
  })()
  const latencies: number[] = []
  let seen = 0
  const deadline = t0 + seconds * 1000 + 30_000
  flushes.count = flushes.ms = 0
  const meter = new Meter()
  while (seen < total && Date.now() < deadline) {
    const records = await reader.poll({ timeoutMs: 5 })
    const now = Date.now()
    for (const r of records) {
      const v = JSON.parse(r.value!.toString()) as Seen
      if (v.t >= measureFrom) latencies.push(now - v.t)
    }
    seen += records.length
  }
  const phase = meter.phase(seen, 0)
  await producing
  await producer.close()
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]
  report('result', {
    produced,
    seen,
    measured: latencies.length,
    ms: phase.seconds * 1000,
    cpuMs: phase.cpu * phase.seconds * 1000,
    others: phase.others,
    flushes: flushes.count,
    flushMs: flushes.ms,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: latencies[latencies.length - 1],
  })
  await reader.close()
  await run.stop()
}

const log = await openEmbeddedLog({ dataDir: values['data-dir'] })
try {
  if (values.phase === 'throughput') await throughput(log)
  else if (values.phase === 'latency') await latency(log)
  else throw new Error(`unknown --phase ${values.phase}`)
  await log.close()
  process.exit(0)
} catch (err) {
  report('error', { message: (err as Error).stack ?? String(err) })
  process.exit(1)
}
