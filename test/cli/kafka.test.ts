// The CLI against a real Apache Kafka broker (started here) with --brokers: topics, produce, consume, groups with
// lag, dead letters, and `sluice serve` ingesting into Kafka. Without Java/Maven the file skips, or fails under CI.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { KAFKA_HOWTO, type KafkaCluster, kafkaUnavailable, startKafka } from '../support/kafka.ts'
import { jsonLines, Sandbox } from './helpers.ts'

const unavailable = await kafkaUnavailable()

if (unavailable !== undefined) {
  describe('the CLI on Kafka', () => {
    if (process.env.CI === 'true') it('needs a Kafka broker', () => assert.fail(unavailable))
    else it('needs a Kafka broker', { skip: unavailable }, () => {})
  })
} else {
  describe('the CLI on Kafka', () => {
    let cluster: KafkaCluster
    let sb: Sandbox
    let brokers: string[]
    before(async () => {
      cluster = await startKafka().catch((error: Error) => {
        throw new Error(`${error.message}\n${KAFKA_HOWTO}`)
      })
      sb = await Sandbox.create()
      brokers = ['--brokers', cluster.brokers.join(',')]
    })
    after(async () => {
      await sb?.cleanup()
      await cluster?.stop()
    })

    it('creates, lists and describes topics, produces and consumes, and reports a group lag', async () => {
      await sb.ok(['topics', 'create', 'events', '--partitions', '2', ...brokers])
      assert.ok((await sb.ok(['topics', 'list', ...brokers])).stdout.split('\n').includes('events'))
      const described = JSON.parse(
        (await sb.ok(['topics', 'describe', 'events', '--json', ...brokers])).stdout,
      )
      assert.equal(described.partitions.length, 2)
      const input = Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: `k${i}`, i })).join('\n')
      await sb.ok(['produce', 'events', '--key-field', 'id', ...brokers], { input })
      const all = jsonLines(
        (await sb.ok(['consume', 'events', '--from-beginning', '--exit-at-end', '--json', ...brokers]))
          .stdout,
      )
      assert.deepEqual(
        all.map((r) => (r.value as { i: number }).i).sort((a, b) => a - b),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      )
      const some = jsonLines(
        (await sb.ok(['consume', 'events', '--group', 'billing', '-b', '--max', '6', '--json', ...brokers]))
          .stdout,
      )
      assert.equal(some.length, 6)
      const group = JSON.parse((await sb.ok(['groups', 'describe', 'billing', '--json', ...brokers])).stdout)
      assert.equal(group.totalLag, 4)
    })

    it('refuses a malformed --brokers with a clear error', async () => {
      const result = await sb.run(['topics', 'list', '--brokers', 'no-port-here'])
      assert.equal(result.code, 1)
      assert.match(result.stderr, /--brokers "no-port-here": expected host:port/)
    })

    it('serve ingests into Kafka', async () => {
      await sb.ok(['topics', 'create', 'clicks', '--partitions', '1', ...brokers])
      const proc = sb.start(['serve', '--port', '0', '--json', ...brokers])
      await proc.waitFor((p) => p.stderr.includes('"listening"'), 'the server to listen')
      const url = JSON.parse(proc.stderr.split('\n').find((l) => l.includes('"listening"'))!).url as string
      const ingest = await fetch(`${url}/v1/topics/clicks/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ page: '/a' }, { page: '/b' }]),
      })
      assert.deepEqual(await ingest.json(), { accepted: 2 })
      proc.child.kill('SIGINT')
      assert.equal((await proc.exited).code, 0)
      const read = jsonLines(
        (await sb.ok(['consume', 'clicks', '--from-beginning', '--exit-at-end', '--json', ...brokers]))
          .stdout,
      )
      assert.deepEqual(
        read.map((r) => r.value),
        [{ page: '/a' }, { page: '/b' }],
      )
    })
  })
}
