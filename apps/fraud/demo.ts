// `sluice demo fraud`: the fraud detection pipeline live, on the embedded log (or Kafka with brokers), with the
// schema registry, the server and its fraud dashboard, and a generator sending transactions in real time: ten-minute
// segments of accounts, each with injected fraud halfway, the schema evolving from v1 to v2 in the first segment.
import { fileURLToPath } from 'node:url'
import { runPipeline } from '../../src/index.ts'
import type { Log, ProducerRecord } from '../../src/log/index.ts'
import { type SubjectSerde, subjectSerde } from '../../src/registry/client.ts'
import { openSchemaRegistry, type SchemaRegistry } from '../../src/registry/store.ts'
import type { RunningPipeline } from '../../src/runtime/runner.ts'
import { registerSchemaRegistry } from '../../src/server/registry-routes.ts'
import { createServer, type SluiceServer } from '../../src/server/server.ts'
import { type GeneratedEvent, generateTransactions } from './generator.ts'
import { FRAUD_TOPICS, fraudPipeline } from './pipeline.ts'
import { TRANSACTION_V1, TRANSACTION_V2, type Transaction } from './transaction.ts'
import { type FraudView, fraudView } from './view.ts'

export interface FraudDemoOptions {
  log: Log
  stateDir: string
  /** Transactions per second sent. */
  rate: number
  port: number
  /** The alerting service's URL, if any. */
  webhook?: string
  seed?: number
  signal?: AbortSignal
}

export interface FraudDemo {
  url: string
  dashboard: string
  run: RunningPipeline
  view: FraudView
  server: SluiceServer
  registry: SchemaRegistry
  /** Transactions and malformed events sent so far. */
  sent(): { transactions: number; malformed: number }
  /** Stops the generator, then the pipeline and the server (the log is the caller's). */
  stop(): Promise<void>
}

const SEGMENT_MS = 10 * 60_000
const TICK_MS = 100

export async function startFraudDemo(options: FraudDemoOptions): Promise<FraudDemo> {
  const { log } = options
  const admin = log.admin()
  const existing = new Set(await admin.listTopics())
  if (!existing.has(FRAUD_TOPICS.transactions))
    await admin.createTopic(FRAUD_TOPICS.transactions, { partitions: 4 })
  if (!existing.has(FRAUD_TOPICS.alerts)) await admin.createTopic(FRAUD_TOPICS.alerts, { partitions: 1 })
  const registry = await openSchemaRegistry({ log })
  const subject = `${FRAUD_TOPICS.transactions}-value`
  const v1 = await subjectSerde<Omit<Transaction, 'device'>>(registry, {
    subject,
    schema: TRANSACTION_V1,
    register: true,
  })
  let v2: SubjectSerde<Transaction> | null = null

  const view = fraudView()
  const run = await runPipeline(
    fraudPipeline({
      view: view.factory,
      webhook: options.webhook === undefined ? undefined : { url: options.webhook },
    }),
    { log, registry, stateDir: options.stateDir },
  )
  const server = createServer({
    log,
    pipelines: [run],
    feeds: [view],
    dashboardDir: fileURLToPath(new URL('../../dashboard/', import.meta.url)),
  })
  registerSchemaRegistry(server.app, registry)
  let url: string
  try {
    ;({ url } = await server.listen({ port: options.port }))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
    ;({ url } = await server.listen({ port: 0 }))
  }

  // the generator: segment after segment of accounts, each event sent when its arrival time comes
  const producer = log.producer()
  const counts = { transactions: 0, malformed: 0 }
  const t0 = Date.now()
  let segment = 0
  let events: GeneratedEvent[] = []
  let next = 0
  const plan = () => {
    events = generateTransactions({
      seed: (options.seed ?? 1) + segment,
      start: t0 + segment * SEGMENT_MS,
      durationMs: SEGMENT_MS,
      meanGapMs: 120_000,
      cleanAccounts: Math.max(10, Math.round(options.rate * 120)),
      fraudPerRule: 3,
      accountPrefix: `s${segment}-`,
      idPrefix: `${segment}-`,
      outlierGapMs: [60_000, 120_000],
    }).events
    next = 0
    segment++
  }
  plan()
  let stopped = false
  const tick = async () => {
    const now = Date.now()
    const batch: ProducerRecord[] = []
    while (next < events.length && events[next].arrival <= now) {
      const e = events[next++]
      if (e.kind === 'malformed') {
        counts.malformed++
        batch.push({
          topic: FRAUD_TOPICS.transactions,
          key: e.key === null ? null : Buffer.from(e.key),
          value: e.bytes,
        })
        continue
      }
      counts.transactions++
      // the schema evolves half way through the first segment: v2 adds the device
      if (v2 === null && (segment > 1 || next > events.length / 2))
        v2 = await subjectSerde<Transaction>(registry, { subject, schema: TRANSACTION_V2, register: true })
      const { device: _, ...t } = e.tx
      batch.push({
        topic: FRAUD_TOPICS.transactions,
        key: Buffer.from(JSON.stringify(e.tx.account)),
        value:
          v2 === null
            ? v1.serialize(t)
            : v2.serialize({ ...e.tx, device: next % 3 === 0 ? 'web' : 'mobile' }),
        timestamp: e.tx.ts,
      })
    }
    if (batch.length > 0) await producer.send(batch)
    if (next >= events.length) plan()
  }
  let ticking: Promise<void> = Promise.resolve()
  const timer = setInterval(() => {
    ticking = ticking.then(tick).catch((err) => {
      if (!stopped) process.stderr.write(`generator stopped: ${(err as Error).message}\n`)
      clearInterval(timer)
    })
  }, TICK_MS)
  options.signal?.addEventListener('abort', () => clearInterval(timer))

  return {
    url,
    dashboard: `${url}/dashboard/fraud.html`,
    run,
    view,
    server,
    registry,
    sent: () => ({ ...counts }),
    async stop() {
      stopped = true
      clearInterval(timer)
      await ticking
      await producer.close()
      await run.stop()
      await server.close()
      await registry.close()
    },
  }
}
