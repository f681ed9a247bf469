// The fraud pipeline end to end on the embedded log: generated accounts with injected fraud, transactions in Avro
// whose schema evolves mid-stream, and malformed events; every injected fraud is alerted exactly once (on the
// fraud_alerts topic and at the alerting service, through its 503s), no clean account is, and every malformed
// event is in the dead-letter topic with its reason.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { feedTransactions } from '../../../apps/fraud/feed.ts'
import {
  ALERT_SCHEMA,
  type Alert,
  fraudPipeline,
  generateTransactions,
  ruleOfSymbol,
} from '../../../apps/fraud/index.ts'
import { type Log, openEmbeddedLog } from '../../../src/log/index.ts'
import { subjectSerde } from '../../../src/registry/client.ts'
import { openSchemaRegistry, type SchemaRegistry } from '../../../src/registry/store.ts'
import { parseDeadLetter } from '../../../src/runtime/dead-letters.ts'
import { runPipeline } from '../../../src/runtime/runner.ts'
import { type AlertReceiver, alertReceiver, canonical } from './support.ts'

let dir: string
let log: Log
let registry: SchemaRegistry
let receiver: AlertReceiver
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-fraud-'))
  log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
  registry = await openSchemaRegistry({ log })
  receiver = await alertReceiver((key) => key.length % 3 === 0)
})
after(async () => {
  await receiver.close()
  await registry.close()
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

async function readTopic(topic: string) {
  const consumer = log.consumer({ isolationLevel: 'read_committed' })
  const { partitions } = await log.admin().describeTopic(topic)
  await consumer.assign(partitions.map(({ partition }) => ({ topic, partition })))
  for (const { partition } of partitions) await consumer.seek({ topic, partition }, 'earliest')
  const out = []
  for (;;) {
    const batch = await consumer.poll({ timeoutMs: 0 })
    if (batch.length === 0) break
    out.push(...batch)
  }
  await consumer.close()
  return out
}

describe('fraud detection end to end', () => {
  it('alerts every injected fraud once, no clean account, and dead-letters every malformed event', async () => {
    const generated = generateTransactions({ seed: 7, cleanAccounts: 300, fraudPerRule: 8 })
    const admin = log.admin()
    await admin.createTopic('transactions', { partitions: 4 })
    await admin.createTopic('fraud_alerts', { partitions: 1 })
    const fed = await feedTransactions(log, registry, generated)
    assert.ok(fed.malformed > 10, `${fed.malformed} malformed events`)
    assert.equal((await registry.versions('transactions-value')).length, 2, 'the schema evolved mid-stream')

    const total = fed.transactions + fed.malformed + 4
    const run = await runPipeline(fraudPipeline({ webhook: { url: receiver.url, backoffMs: 5 } }), {
      log,
      registry,
      stateDir: join(dir, 'state'),
      commitIntervalMs: 50,
    })
    const deadline = Date.now() + 60_000
    while ([...run.committedOffsets().values()].reduce((a, b) => a + b, 0) < total) {
      assert.ok(Date.now() < deadline, 'the pipeline did not get through its input')
      await new Promise((r) => setTimeout(r, 20))
    }
    await run.stop()

    const want = generated.alerts.map(canonical).sort()
    assert.equal(want.length, 32)
    const serde = await subjectSerde<Alert>(registry, { subject: 'fraud_alerts-value', schema: ALERT_SCHEMA })
    const published = (await readTopic('fraud_alerts')).map((r) => {
      const a = serde.deserialize(r.value)
      return { ...a, rule: ruleOfSymbol(a.rule) }
    })
    assert.deepEqual(published.map(canonical).sort(), want)
    for (const a of published) assert.ok(a.reason.length > 0)

    assert.deepEqual([...receiver.alerts.keys()].sort(), generated.alerts.map((a) => a.alertId).sort())
    assert.deepEqual([...receiver.alerts.values()].map((a) => canonical(a as Alert)).sort(), want)
    assert.ok(
      [...receiver.requests.values()].some((n) => n > 1),
      'some alerts were retried',
    )

    const dead = (await readTopic('fraud-dead-letters')).map((r) => parseDeadLetter(r)!)
    assert.equal(dead.length, fed.malformed)
    for (const d of dead) {
      assert.equal(d.kind, 'deserialization')
      assert.equal(d.code, 'SLUICE_ERR_SERDE')
      assert.equal(d.topic, 'transactions')
      assert.match(d.message, /^step transactions cannot read the record at transactions\/\d offset \d+: ./)
    }
  })
})
