// End to end: a pipeline run on the embedded log dead-letters malformed orders; `sluice dlq inspect` says why each
// was rejected and `sluice dlq replay` writes the original bytes and headers back, all or nothing.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { pipeline } from '../../src/index.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { runPipeline } from '../../src/runtime/runner.ts'
import { jsonLines, Sandbox } from './helpers.ts'

const GOOD = ['{"id":1,"amount":2}', '{"id":3,"amount":4}', '{"id":6,"amount":1}']
const BAD = ['{"id":2,"amo', 'not json at all', '{"id":5,"amount":}']

describe('sluice dlq', () => {
  let sb: Sandbox
  before(async () => {
    sb = await Sandbox.create()
    const log = await openEmbeddedLog({ dataDir: sb.dataDir })
    try {
      const admin = log.admin()
      await admin.createTopic('orders', { partitions: 2 })
      await admin.createTopic('doubled', { partitions: 1 })
      await admin.createTopic('fixed', { partitions: 1 })
      const producer = log.producer()
      const values = [GOOD[0], BAD[0], GOOD[1], BAD[1], BAD[2], GOOD[2]]
      await producer.send(
        values.map((v, i) => ({
          topic: 'orders',
          partition: i % 2,
          key: Buffer.from(JSON.stringify(`k${i}`)),
          value: Buffer.from(v),
          headers: [['trace', Buffer.from(`t${i}`)]],
        })),
      )
      await producer.close()
      const p = pipeline('orders-app')
      p.source<string, { id: number; amount: number }>('read-orders', { topic: 'orders' })
        .map((o) => ({ id: o.id, amount: o.amount * 2 }), { name: 'double' })
        .to('doubled')
      const run = await runPipeline(p, { log, stateDir: join(sb.dir, 'state'), commitIntervalMs: 10 })
      const deadline = Date.now() + 20_000
      while ([...run.committedOffsets().values()].reduce((a, b) => a + b, 0) < values.length) {
        assert.ok(Date.now() < deadline, 'the pipeline did not commit its input')
        await new Promise((r) => setTimeout(r, 10))
      }
      await run.stop()
    } finally {
      await log.close()
    }
  })
  after(() => sb.cleanup())

  test('inspect names the step, the source record and the reason of each dead letter', async () => {
    const result = await sb.ok(['dlq', 'inspect', 'orders-app-dead-letters'])
    const lines = result.stdout.trim().split('\n').sort()
    assert.equal(lines.length, 3)
    for (const line of lines) {
      assert.match(
        line,
        /^0\/\d+ deserialization SLUICE_ERR_SERDE at step orders-app\/read-orders, from orders\/[01] offset \d+: step read-orders cannot read the record at orders\/[01] offset \d+: /,
      )
    }
    assert.equal(result.stderr, '3 dead letters (3 deserialization)\n')

    const json = jsonLines((await sb.ok(['dlq', 'inspect', 'orders-app-dead-letters', '--json'])).stdout)
    assert.deepEqual(json.map((j) => j.value).sort(), [...BAD].sort())
    const first = json.find((j) => j.value === BAD[0])!
    assert.deepEqual(first.source, { topic: 'orders', partition: 1, offset: 0, offsets: null })
    assert.equal(first.key, '"k1"')
    assert.deepEqual(first.headers, [{ key: 'trace', data: 't1', encoding: 'utf8' }])
    assert.equal(first.payload, 'original')

    const limited = await sb.ok([
      'dlq',
      'inspect',
      'orders-app-dead-letters',
      '--max',
      '1',
      '--code',
      'SLUICE_ERR_SERDE',
    ])
    assert.equal(limited.stdout.trim().split('\n').length, 1)
    const none = await sb.ok(['dlq', 'inspect', 'orders-app-dead-letters', '--kind', 'processing'])
    assert.equal(none.stdout, '')
    const bad = await sb.run(['dlq', 'inspect', 'orders-app-dead-letters', '--kind', 'parsing'])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /--kind parsing is not a kind of failure/)
  })

  test('replay --to writes the original bytes and headers, without the dead-letter headers', async () => {
    const result = await sb.ok(['dlq', 'replay', 'orders-app-dead-letters', '--to', 'fixed', '--progress'])
    assert.equal(result.stdout, 'replayed 3 dead letters: 3 to fixed\n')
    assert.match(result.stderr, /replaying \[#+\] 3\/3 100%/)
    const fixed = jsonLines(
      (await sb.ok(['consume', 'fixed', '--from-beginning', '--exit-at-end', '--json'])).stdout,
    )
    assert.deepEqual(fixed.map((r) => r.value).sort(), [...BAD].sort())
    for (const r of fixed) {
      const headers = r.headers as { key: string; value: string }[]
      assert.deepEqual(
        headers.map((h) => h.key),
        ['trace'],
      )
    }
  })

  test('replay without --to sends each back to its own topic and partition', async () => {
    const before = jsonLines((await sb.ok(['topics', 'describe', 'orders', '--json'])).stdout)[0] as {
      partitions: { partition: number; highWatermark: number }[]
    }
    const result = await sb.ok(['dlq', 'replay', 'orders-app-dead-letters', '--json'])
    assert.deepEqual(JSON.parse(result.stdout), { replayed: 3, topics: { orders: 3 } })
    const records = jsonLines(
      (await sb.ok(['consume', 'orders', '--from-beginning', '--exit-at-end', '--json'])).stdout,
    )
    const replayed = records.filter(
      (r) =>
        (r.offset as number) >= before.partitions.find((p) => p.partition === r.partition)!.highWatermark,
    )
    assert.deepEqual(
      replayed.map((r) => [r.partition, r.key, r.value]).sort(),
      [
        [1, '"k1"', BAD[0]],
        [1, '"k3"', BAD[1]],
        [0, '"k4"', BAD[2]],
      ].sort(),
    )
  })

  test('replay to a topic that does not exist writes nothing and says what to do', async () => {
    const result = await sb.run(['dlq', 'replay', 'orders-app-dead-letters', '--to', 'nowhere'])
    assert.equal(result.code, 1)
    assert.match(
      result.stderr,
      /SLUICE_ERR_TOPIC_NOT_FOUND: cannot replay .* to topic nowhere, which does not exist: create it or pass --to/,
    )
    const topics = (await sb.ok(['topics', 'list'])).stdout
    assert.ok(!topics.includes('nowhere'))
  })
})
