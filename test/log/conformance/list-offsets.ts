// Conformance: listOffsets (earliest, latest, lastStable, by timestamp), as Kafka's ListOffsets answers them.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { LogFactory } from './harness.ts'
import { useLog } from './harness.ts'
import { bytes } from './helpers.ts'

// Deliberately not monotonic: Kafka answers "the first offset whose timestamp is >= the target".
const TIMESTAMPS = [100, 200, 200, 300, 250, 400]
const LOOKUPS: [target: number, offset: number][] = [
  [0, 0],
  [100, 0],
  [101, 1],
  [200, 1],
  [201, 3],
  [250, 3],
  [300, 3],
  [301, 5],
  [400, 5],
]

export function listOffsetsTests(factory: LogFactory): void {
  describe('list offsets', () => {
    const ctx = useLog(factory, 'lo')
    const opts = { timeout: ctx.testTimeoutMs }

    it('an empty partition answers 0 for every spec', opts, async () => {
      const topic = await ctx.createTopic(1)
      for (const spec of [
        'earliest',
        'latest',
        'lastStable',
        { timestamp: 0 },
        { timestamp: 1e13 },
      ] as const) {
        assert.equal(await ctx.admin.listOffsets(topic, 0, spec), 0, JSON.stringify(spec))
      }
    })

    it('earliest, latest and lastStable after plain appends', opts, async () => {
      const topic = await ctx.createTopic(2)
      await ctx
        .producer()
        .send(Array.from({ length: 5 }, (_, i) => ({ topic, partition: 1, value: bytes(`${i}`) })))
      assert.equal(await ctx.admin.listOffsets(topic, 1, 'earliest'), 0)
      assert.equal(await ctx.admin.listOffsets(topic, 1, 'latest'), 5)
      assert.equal(await ctx.admin.listOffsets(topic, 1, 'lastStable'), 5)
      assert.equal(await ctx.admin.listOffsets(topic, 0, 'latest'), 0, 'other partition untouched')
    })

    it(
      'by timestamp: the first offset whose timestamp is >= the target, latest when none',
      opts,
      async () => {
        const topic = await ctx.createTopic(2)
        const producer = ctx.producer()
        // Partition 0: one batch per record; partition 1: all records in one batch.
        for (const timestamp of TIMESTAMPS) {
          await producer.send([{ topic, partition: 0, value: bytes(`${timestamp}`), timestamp }])
        }
        await producer.send(
          TIMESTAMPS.map((timestamp) => ({ topic, partition: 1, value: bytes('x'), timestamp })),
        )
        for (const partition of [0, 1]) {
          for (const [target, offset] of LOOKUPS) {
            assert.equal(
              await ctx.admin.listOffsets(topic, partition, { timestamp: target }),
              offset,
              `partition ${partition}, timestamp ${target}`,
            )
          }
          assert.equal(
            await ctx.admin.listOffsets(topic, partition, { timestamp: 401 }),
            TIMESTAMPS.length,
            `partition ${partition}: no record at or after 401 → latest`,
          )
        }
      },
    )

    it('by timestamp still answers after close and reopen', { ...opts, skip: !factory.reopen }, async () => {
      const topic = await ctx.createTopic(1)
      const producer = ctx.producer()
      for (const timestamp of TIMESTAMPS) {
        await producer.send([{ topic, partition: 0, value: bytes(`${timestamp}`), timestamp }])
      }
      await ctx.reopen()
      for (const [target, offset] of LOOKUPS) {
        assert.equal(
          await ctx.admin.listOffsets(topic, 0, { timestamp: target }),
          offset,
          `timestamp ${target}`,
        )
      }
      assert.equal(await ctx.admin.listOffsets(topic, 0, 'latest'), TIMESTAMPS.length)
    })
  })
}
