// Runs the Log conformance suite, unchanged, against a real Apache Kafka broker (KRaft, one node on loopback) that
// this file starts and stops. Without Java/Maven the file skips, or fails under CI, saying how to get them.
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { openKafkaLog } from '../../src/kafka/index.ts'
import { KAFKA_HOWTO, kafkaUnavailable, startKafka } from '../support/kafka.ts'
import { logConformanceSuite } from './conformance/suite.ts'

const unavailable = await kafkaUnavailable()

if (unavailable !== undefined) {
  describe('Log conformance: kafka', () => {
    if (process.env.CI === 'true') it('needs a Kafka broker', () => assert.fail(unavailable))
    else it('needs a Kafka broker', { skip: unavailable }, () => {})
  })
} else {
  const cluster = await startKafka().catch((error: Error) => {
    throw new Error(`${error.message}\n${KAFKA_HOWTO}`)
  })
  // Stops the broker even if the suite never gets to its own cleanup; stopping twice is harmless.
  after(() => cluster.stop())
  const open = () => openKafkaLog({ brokers: cluster.brokers, clientId: 'sluice-conformance' })
  logConformanceSuite('kafka', {
    open,
    // Kafka keeps everything on the brokers: reopening is connecting a new client.
    reopen: open,
    cleanup: () => cluster.stop(),
    waitTimeoutMs: 30_000,
    propertyRuns: 5,
  })
}
