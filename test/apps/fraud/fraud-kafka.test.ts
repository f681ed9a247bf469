// The same fraud pipeline, unchanged, on a real Apache Kafka broker (KRaft, one node on loopback, started here):
// the registry keeps its schemas in Kafka, the runner creates its internal topics there, and every injected fraud
// is alerted exactly once while every malformed event is dead-lettered. Without Java/Maven the file skips, or fails
// under CI, saying how to get them.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { feedTransactions } from '../../../apps/fraud/feed.ts'
import {
  ALERT_SCHEMA,
  type Alert,
  fraudPipeline,
  generateTransactions,
  ruleOfSymbol,
} from '../../../apps/fraud/index.ts'
import { openKafkaLog } from '../../../src/kafka/index.ts'
import type { Log } from '../../../src/log/index.ts'
import { subjectSerde } from '../../../src/registry/client.ts'
import { openSchemaRegistry } from '../../../src/registry/store.ts'
import { parseDeadLetter } from '../../../src/runtime/dead-letters.ts'
import { runPipeline } from '../../../src/runtime/runner.ts'
import { KAFKA_HOWTO, kafkaUnavailable, startKafka } from '../../support/kafka.ts'
import { canonical } from './support.ts'

const unavailable = await kafkaUnavailable()

async function readAll(log: Log, topic: string) {
  const c = log.consumer({ isolationLevel: 'read_committed' })
  const { partitions } = await log.admin().describeTopic(topic)
  await c.assign(partitions.map(({ partition }) => ({ topic, partition })))
  for (const { partition } of partitions) await c.seek({ topic, partition }, 'earliest')
  const out = []
  for (let idle = 0; idle < 3; ) {
    const batch = await c.poll({ timeoutMs: 500 })
    if (batch.length === 0) idle++
    else out.push(...batch)
  }
  await c.close()
  return out
}

if (unavailable !== undefined) {
  describe('fraud pipeline on Kafka', () => {
    if (process.env.CI === 'true') it('needs a Kafka broker', () => assert.fail(unavailable))
    else it('needs a Kafka broker', { skip: unavailable }, () => {})
  })
} else {
  describe('fraud pipeline on Kafka', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-fraud-kafka-'))
    let stop: () => Promise<void> = async () => {}
    after(async () => {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    })

    it('alerts every injected fraud once and dead-letters every malformed event, as on the embedded log', {
      timeout: 240_000,
    }, async () => {
      const cluster = await startKafka().catch((error: Error) => {
        throw new Error(`${error.message}\n${KAFKA_HOWTO}`)
      })
      stop = () => cluster.stop()
      const log = await openKafkaLog({ brokers: cluster.brokers, clientId: 'sluice-fraud' })
      const registry = await openSchemaRegistry({ log })
      try {
        await log.admin().createTopic('transactions', { partitions: 4 })
        await log.admin().createTopic('fraud_alerts', { partitions: 1 })
        const generated = generateTransactions({ seed: 5, cleanAccounts: 100, fraudPerRule: 4 })
        const fed = await feedTransactions(log, registry, generated)
        const run = await runPipeline(fraudPipeline(), { log, registry, stateDir: join(dir, 'state') })
        const total = fed.transactions + fed.malformed + 4
        const deadline = Date.now() + 120_000
        while (
          [...run.committedOffsets().entries()]
            .filter(([k]) => k.startsWith('transactions:'))
            .reduce((n, [, o]) => n + o, 0) < total
        ) {
          assert.ok(
            Date.now() < deadline,
            `the pipeline did not get through its input: ${JSON.stringify(run.status().error)}`,
          )
          await new Promise((r) => setTimeout(r, 100))
        }
        await run.stop()
        const serde = await subjectSerde<Alert>(registry, {
          subject: 'fraud_alerts-value',
          schema: ALERT_SCHEMA,
        })
        const published = (await readAll(log, 'fraud_alerts')).map((r) => {
          const a = serde.deserialize(r.value)
          return canonical({ ...a, rule: ruleOfSymbol(a.rule) })
        })
        assert.deepEqual(published.sort(), generated.alerts.map(canonical).sort())
        const dead = (await readAll(log, 'fraud-dead-letters')).map((r) => parseDeadLetter(r)!)
        assert.equal(dead.length, fed.malformed)
      } finally {
        await registry.close()
        await log.close()
      }
    })
  })
}
