// The child process of bench/fraud.ts for throughput and memory: the fraud pipeline as shipped (apps/fraud/pipeline.ts,
// its Avro serdes bound here to a schema registry on an embedded log, since the test driver binds none) under the
// test driver, on the memory backend, one task. Transactions are generated and written as Avro records before the
// clock starts, then handed to the pipeline in chunks and let go. Once the clean traffic is in (before the profile
// outliers, days later in event time, move the watermark past every partial match), with every account's state as
// in steady traffic, the heap is measured after a full GC. Prints one JSON line, `result`.
// Usage: node --expose-gc bench/fraud/throughput.ts --accounts N --events N [--fraud-per-rule N] [--chunk N]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fraudPipeline } from '../../apps/fraud/pipeline.ts'
import { type Alert, TRANSACTION_V2, type Transaction } from '../../apps/fraud/transaction.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { subjectSerde } from '../../src/registry/client.ts'
import { openSchemaRegistry } from '../../src/registry/store.ts'
import { bindSchemas } from '../../src/runtime/schemas.ts'
import { TestDriver, type TestInput } from '../../src/testing/index.ts'
import { Meter } from '../log/meter.ts'
import { fraudWorkload } from './workload.ts'

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '100000' },
    events: { type: 'string', default: '2000000' },
    'fraud-per-rule': { type: 'string', default: '100' },
    chunk: { type: 'string', default: '100000' },
    'batch-size': { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
  },
})
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')
const heapAfterGc = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-fraud-'))
const log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
const registry = await openSchemaRegistry({ log })
try {
  const driver = new TestDriver(fraudPipeline(), { batchSize: Number(values['batch-size']) })
  await bindSchemas(driver.topology.graph, registry)
  const heapBefore = heapAfterGc()

  const work = fraudWorkload({
    accounts: Number(values.accounts),
    events: Number(values.events),
    fraudPerRule: Number(values['fraud-per-rule']),
    seed: Number(values.seed),
  })
  const serde = await subjectSerde<Transaction>(registry, {
    subject: 'transactions-value',
    schema: TRANSACTION_V2,
    register: true,
  })
  const chunk = Number(values.chunk)
  const t0 = performance.now()
  // in chunks, each let go once fed: [0, steady) and then the rest
  const chunks: (TestInput<Buffer, Buffer>[] | undefined)[] = []
  const bounds = [0]
  for (const [from, to] of [
    [0, work.steady],
    [work.steady, work.transactions.length],
  ]) {
    for (let i = from; i < to; i += chunk) {
      chunks.push(
        work.transactions.slice(i, Math.min(to, i + chunk)).map((t) => ({
          key: Buffer.from(JSON.stringify(t.account)),
          value: serde.serialize(t)!,
          timestamp: t.ts,
          partition: 0,
        })),
      )
    }
    bounds.push(chunks.length)
  }
  const events = work.transactions.length
  const prepareSeconds = (performance.now() - t0) / 1000
  work.transactions.length = 0
  const feed = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const batch = chunks[i]!
      chunks[i] = undefined
      driver.pipeRawInput('transactions', batch)
    }
  }
  gc()

  const meter = new Meter()
  feed(bounds[0], bounds[1])
  const steady = meter.phase(work.steady, 0)

  // every account's state as it is while transactions keep coming (the input so far let go), before the profile
  // outliers, days later, move the watermark past every partial match
  const heapSteady = heapAfterGc()
  const entries: Record<string, number> = {}
  for (const step of ['big-three', 'card-testing', 'impossible-travel', 'profile'])
    entries[step] = driver.state(step).filter((e) => !e.key.startsWith('t|')).length

  const meter1 = new Meter()
  feed(bounds[1], bounds[2])
  const rest = meter1.phase(events - work.steady, 0)
  const meter2 = new Meter()
  driver.endInput('transactions')
  const ended = meter2.phase(0, 0)

  const alerts = driver.readOutput<string, Alert>('fraud_alerts')
  const ids = new Set(alerts.map((a) => a.value.alertId))
  const expected = work.alerts.map((a) => a.alertId)
  await driver.close()
  const phases = [steady, rest, ended]
  const seconds = phases.reduce((a, p) => a + p.seconds, 0)
  const cpuSeconds = phases.reduce((a, p) => a + p.seconds * p.cpu, 0)
  process.stdout.write(
    `${JSON.stringify({
      event: 'result',
      events,
      accounts: work.accounts,
      prepareSeconds,
      seconds,
      cpuSeconds,
      endSeconds: ended.seconds,
      others: steady.others,
      heapBytesPerAccount: (heapSteady - heapBefore) / work.accounts,
      heapBefore,
      heapSteady,
      entries,
      alerts: alerts.length,
      expectedAlerts: expected.length,
      expectedFound: expected.filter((id) => ids.has(id)).length,
    })}\n`,
  )
} finally {
  await registry.close()
  await log.close()
  rmSync(dir, { recursive: true, force: true })
}
