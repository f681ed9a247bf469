// The child process of bench/fraud.ts for alert latency: the fraud pipeline as shipped, run by the real runner under
// exactly-once on a fresh embedded log with a schema registry, while this process appends transactions at a steady
// --rate (what is due every 2 ms, each stamped with the wall clock as its event time) and reads fraud_alerts
// read_committed as alerts appear. An alert's latency runs from the append of the transaction that completed it to
// the moment the reader has it. A pattern's alert can only be produced once the watermark (5 s behind the newest
// transaction of the partition) passes that transaction, so each alert is also timed from the append of the first
// transaction of its partition that moved the watermark past it: what the engine adds to the wait the pipeline asks
// for. After the workload, --tail-s more seconds of clean transactions move every watermark past its end. Prints one
// JSON line.
import { parseArgs } from 'node:util'
import { fraudPipeline } from '../../apps/fraud/pipeline.ts'
import { ALERT_SCHEMA, type Alert, TRANSACTION_V2, type Transaction } from '../../apps/fraud/transaction.ts'
import { openEmbeddedLog, type ProducerRecord, partitionForKey } from '../../src/log/index.ts'
import { subjectSerde } from '../../src/registry/client.ts'
import { openSchemaRegistry } from '../../src/registry/store.ts'
import { runPipeline } from '../../src/runtime/runner.ts'
import { Meter } from '../log/meter.ts'
import { epochNow } from '../worker-process.ts'
import { fraudWorkload } from './workload.ts'

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    'state-dir': { type: 'string' },
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '30' },
    'warmup-s': { type: 'string', default: '5' },
    'tail-s': { type: 'string', default: '7' },
    accounts: { type: 'string', default: '100000' },
    'fraud-per-rule': { type: 'string', default: '250' },
    partitions: { type: 'string', default: '4' },
    'commit-interval': { type: 'string', default: '100' },
    'timeout-s': { type: 'string', default: '300' },
  },
})
const rate = Number(values.rate)
const partitions = Number(values.partitions)
const timeoutMs = Number(values['timeout-s']) * 1000
/** The pipeline's watermark: 5 s of out-of-orderness, W = newest - 5000 - 1. */
const OUT_OF_ORDERNESS_MS = 5000

const report = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`)
setTimeout(() => {
  report('error', { message: `worker timed out after ${timeoutMs} ms` })
  process.exit(2)
}, timeoutMs).unref()
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const work = fraudWorkload({
  accounts: Number(values.accounts),
  events: rate * Number(values.seconds),
  fraudPerRule: Number(values['fraud-per-rule']),
})
// the workload, then clean transactions again (new ids) until every watermark has passed its end
const measured = work.transactions.length
const tail = Math.round(rate * Number(values['tail-s']))
const clean = work.transactions.filter((t) => /^acc-\d+$/.test(t.account))
const sequence: Transaction[] = [...work.transactions]
for (let i = 0; i < tail; i++) sequence.push({ ...clean[i % clean.length], id: `tail-${i}` })
const expected = new Set(work.alerts.map((a) => a.alertId))

const log = await openEmbeddedLog({ dataDir: values['data-dir'] })
const registry = await openSchemaRegistry({ log })
const admin = log.admin()
await admin.createTopic('transactions', { partitions })
await admin.createTopic('fraud_alerts', { partitions: 1 })
const txSerde = await subjectSerde<Transaction>(registry, {
  subject: 'transactions-value',
  schema: TRANSACTION_V2,
  register: true,
})
const run = await runPipeline(fraudPipeline(), {
  log,
  registry,
  stateDir: values['state-dir'],
  guarantee: 'exactly-once',
  commitIntervalMs: Number(values['commit-interval']),
})
run.done.catch((err: unknown) => {
  report('error', { message: `the pipeline failed: ${(err as Error).stack ?? String(err)}` })
  process.exit(1)
})
const alertSerde = await subjectSerde<Alert>(registry, {
  subject: 'fraud_alerts-value',
  schema: ALERT_SCHEMA,
})
const reader = log.consumer({ isolationLevel: 'read_committed' })
await reader.assign([{ topic: 'fraud_alerts', partition: 0 }])
await reader.seek({ topic: 'fraud_alerts', partition: 0 }, 'earliest')

/** Per transaction id: when its append returned, its partition and time. */
const appended = new Map<string, { at: number; partition: number; ts: number }>()
/** Per partition, in append order: event times and append times, for the transaction that moved the watermark. */
const byPartition = Array.from({ length: partitions }, () => ({ ts: [] as number[], at: [] as number[] }))

const producer = log.producer()
const t0 = epochNow()
const measureFrom = t0 + Number(values['warmup-s']) * 1000
let produced = 0
let producedMeasured = 0
let producingDone = false
const producing = (async () => {
  while (produced < sequence.length) {
    const due = Math.min(sequence.length, Math.floor(((epochNow() - t0) * rate) / 1000))
    if (due > produced) {
      const to = Math.min(due, produced + 5000)
      const ts = Date.now()
      const batch: ProducerRecord[] = []
      for (let i = produced; i < to; i++) {
        const t = sequence[i]
        const key = Buffer.from(JSON.stringify(t.account))
        batch.push({
          topic: 'transactions',
          partition: partitionForKey(key, partitions),
          key,
          value: txSerde.serialize({ ...t, ts }),
          timestamp: ts,
        })
      }
      await producer.send(batch)
      const at = epochNow()
      for (let i = produced; i < to; i++) {
        const partition = batch[i - produced].partition!
        appended.set(sequence[i].id, { at, partition, ts })
        byPartition[partition].ts.push(ts)
        byPartition[partition].at.push(at)
      }
      produced = to
      if (produced <= measured) producedMeasured = produced
    }
    await sleep(2)
  }
  producingDone = true
})()

/** When the first transaction of `partition` with a time at or after `from` was appended (its watermark passed from - 1). */
function firstAppendFrom(partition: number, from: number): number | undefined {
  const { ts, at } = byPartition[partition]
  let lo = 0
  let hi = ts.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (ts[mid] < from) lo = mid + 1
    else hi = mid
  }
  return lo < ts.length ? at[lo] : undefined
}

interface Seen {
  rule: string
  total: number
  engine: number | null
}
const seen: Seen[] = []
let alerts = 0
let expectedSeen = 0
const meter = new Meter()
let quietSince = epochNow()
const deadline = t0 + (sequence.length / rate) * 1000 + 30_000
while (epochNow() < deadline) {
  const records = await reader.poll({ timeoutMs: 5 })
  const now = epochNow()
  for (const r of records) {
    const a = alertSerde.deserialize(r.value!)
    alerts++
    if (expected.has(a.alertId)) expectedSeen++
    const last = appended.get(a.txIds[a.txIds.length - 1])
    if (last === undefined || last.at < measureFrom) continue
    const fromWorkload = !a.txIds[a.txIds.length - 1].startsWith('tail-')
    if (!fromWorkload) continue
    const rule = a.rule as string // the Avro enum's symbol
    const pattern = rule !== 'profile_outlier'
    const trigger = pattern ? firstAppendFrom(last.partition, last.ts + OUT_OF_ORDERNESS_MS + 1) : last.at
    seen.push({ rule, total: now - last.at, engine: trigger === undefined ? null : now - trigger })
  }
  if (records.length > 0) quietSince = now
  if (producingDone && now - quietSince > 3000) break
}
const phase = meter.phase(produced, 0)
await producing
await producer.close()

const pct = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const at = (q: number) => (s.length === 0 ? null : s[Math.min(s.length - 1, Math.floor(q * s.length))])
  return {
    n: s.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: s.length === 0 ? null : s[s.length - 1],
  }
}
const engine = seen.filter((s) => s.engine !== null).map((s) => s.engine!)
const committed = [...run.committedOffsets().entries()]
  .filter(([tp]) => tp.startsWith('transactions'))
  .reduce((n, [, o]) => n + o, 0)
report('result', {
  commitIntervalMs: Number(values['commit-interval']),
  rate,
  produced,
  producedMeasured,
  measuredTransactions: measured,
  sentSeconds: (epochNow() - t0) / 1000,
  committed,
  alerts,
  expectedAlerts: expected.size,
  expectedSeen,
  engine: pct(engine),
  totalPattern: pct(seen.filter((s) => s.rule !== 'profile_outlier').map((s) => s.total)),
  totalProfile: pct(seen.filter((s) => s.rule === 'profile_outlier').map((s) => s.total)),
  byRule: Object.fromEntries(
    ['big_three', 'card_testing', 'impossible_travel', 'profile_outlier'].map((r) => [
      r,
      pct(seen.filter((s) => s.rule === r && s.engine !== null).map((s) => s.engine!)),
    ]),
  ),
  cpu: phase.cpu,
  others: phase.others,
})
await reader.close()
await run.stop()
await registry.close()
await log.close()
process.exit(0)
