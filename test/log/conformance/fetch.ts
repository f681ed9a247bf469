// Conformance: fetching, as a Kafka consumer observes it: assign, offset reset, seek and position, waiting polls,
// and the record and byte limits of one poll.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ConsumedRecord } from '../../../src/log/contract.ts'
import type { LogFactory } from './harness.ts'
import { useLog } from './harness.ts'
import { bytes, ofPartition, partitionsOf, pollUntil, rejectsWithCode, sortTps, valuesOf } from './helpers.ts'

export function fetchTests(factory: LogFactory): void {
  describe('fetch', () => {
    const ctx = useLog(factory, 'fetch')
    const opts = { timeout: ctx.testTimeoutMs }

    it(
      'assign without committed offset starts at the end by default (autoOffsetReset latest)',
      opts,
      async () => {
        const topic = await ctx.createTopic(1)
        const tp = { topic, partition: 0 }
        const producer = ctx.producer()
        await producer.send([1, 2, 3].map((i) => ({ ...tp, value: bytes(`old${i}`) })))
        const consumer = ctx.consumer()
        await consumer.assign([tp])
        assert.deepEqual(consumer.assignment(), [tp])
        assert.deepEqual(valuesOf(await consumer.poll({ timeoutMs: 100 })), [])
        assert.equal(consumer.position(tp), 3, 'position resolved to the end')
        await producer.send([{ ...tp, value: bytes('new') }])
        const got = await pollUntil(consumer, (r) => r.length >= 1, ctx.waitTimeoutMs)
        assert.deepEqual(valuesOf(got), ['new'])
        assert.equal(got[0].offset, 3)
        assert.equal(consumer.position(tp), 4)
      },
    )

    it('autoOffsetReset earliest starts at the log start', opts, async () => {
      const topic = await ctx.createTopic(1)
      const tp = { topic, partition: 0 }
      await ctx.producer().send([1, 2, 3].map((i) => ({ ...tp, value: bytes(`v${i}`) })))
      const consumer = ctx.consumer({ autoOffsetReset: 'earliest' })
      await consumer.assign([tp])
      const got = await pollUntil(consumer, (r) => r.length >= 3, ctx.waitTimeoutMs)
      assert.deepEqual(valuesOf(got), ['v1', 'v2', 'v3'])
      assert.deepEqual(
        got.map((r) => [r.topic, r.partition, r.offset]),
        [
          [topic, 0, 0],
          [topic, 0, 1],
          [topic, 0, 2],
        ],
      )
      assert.equal(consumer.position(tp), 3)
    })

    it('seek to an offset, earliest and latest moves the position and what poll returns', opts, async () => {
      const topic = await ctx.createTopic(1)
      const tp = { topic, partition: 0 }
      const producer = ctx.producer()
      await producer.send(Array.from({ length: 6 }, (_, i) => ({ ...tp, value: bytes(`v${i}`) })))
      const consumer = ctx.consumer()
      await consumer.assign([tp])

      await consumer.seek(tp, 4)
      assert.equal(consumer.position(tp), 4)
      assert.deepEqual(valuesOf(await pollUntil(consumer, (r) => r.length >= 2, ctx.waitTimeoutMs)), [
        'v4',
        'v5',
      ])
      assert.equal(consumer.position(tp), 6)

      await consumer.seek(tp, 'earliest')
      const all = await pollUntil(consumer, (r) => r.length >= 6, ctx.waitTimeoutMs)
      assert.deepEqual(valuesOf(all), ['v0', 'v1', 'v2', 'v3', 'v4', 'v5'])

      await consumer.seek(tp, 1)
      const fromOne = await pollUntil(consumer, (r) => r.length >= 1, ctx.waitTimeoutMs)
      assert.equal(fromOne[0].offset, 1, 'seek backwards re-reads')

      await consumer.seek(tp, 'latest')
      assert.deepEqual(valuesOf(await consumer.poll({ timeoutMs: 100 })), [])
      assert.equal(consumer.position(tp), 6)
      await producer.send([{ ...tp, value: bytes('after') }])
      assert.deepEqual(valuesOf(await pollUntil(consumer, (r) => r.length >= 1, ctx.waitTimeoutMs)), [
        'after',
      ])
    })

    it(
      'a position past the end is reset per autoOffsetReset, as Kafka does on OFFSET_OUT_OF_RANGE',
      opts,
      async () => {
        const topic = await ctx.createTopic(1)
        const tp = { topic, partition: 0 }
        await ctx.producer().send([
          { ...tp, value: bytes('a') },
          { ...tp, value: bytes('b') },
        ])
        const consumer = ctx.consumer({ autoOffsetReset: 'earliest' })
        await consumer.assign([tp])
        await consumer.seek(tp, 1000)
        const got = await pollUntil(consumer, (r) => r.length >= 2, ctx.waitTimeoutMs)
        assert.deepEqual(valuesOf(got), ['a', 'b'])
      },
    )

    it(
      'seek to a negative offset or an unassigned partition fails with SLUICE_ERR_INVALID_ARGUMENT',
      opts,
      async () => {
        const topic = await ctx.createTopic(2)
        const consumer = ctx.consumer()
        await consumer.assign([{ topic, partition: 0 }])
        await rejectsWithCode(() => consumer.seek({ topic, partition: 0 }, -1), 'SLUICE_ERR_INVALID_ARGUMENT')
        await rejectsWithCode(() => consumer.seek({ topic, partition: 1 }, 0), 'SLUICE_ERR_INVALID_ARGUMENT')
      },
    )

    it('poll returns only assigned partitions; assign replaces the assignment', opts, async () => {
      const topic = await ctx.createTopic(3)
      const other = await ctx.createTopic(1)
      await ctx.producer().send([
        { topic, partition: 0, value: bytes('p0') },
        { topic, partition: 1, value: bytes('p1') },
        { topic, partition: 2, value: bytes('p2') },
        { topic: other, partition: 0, value: bytes('o0') },
      ])
      const consumer = ctx.consumer({ autoOffsetReset: 'earliest' })
      await consumer.assign([
        { topic, partition: 2 },
        { topic: other, partition: 0 },
      ])
      assert.deepEqual(
        sortTps(consumer.assignment()),
        sortTps([
          { topic, partition: 2 },
          { topic: other, partition: 0 },
        ]),
      )
      const got = await pollUntil(consumer, (r) => r.length >= 2, ctx.waitTimeoutMs)
      assert.deepEqual(valuesOf(got).sort(), ['o0', 'p2'])
      for (const r of got) {
        assert.equal(
          r.value?.toString(),
          r.topic === other ? 'o0' : `p${r.partition}`,
          'topic/partition fields',
        )
      }
      assert.equal(consumer.position({ topic, partition: 0 }), undefined, 'no position for unassigned')

      await consumer.assign([{ topic, partition: 0 }])
      assert.deepEqual(consumer.assignment(), [{ topic, partition: 0 }])
      assert.equal(consumer.position({ topic, partition: 2 }), undefined, 'old partition dropped')
      assert.deepEqual(valuesOf(await pollUntil(consumer, (r) => r.length >= 1, ctx.waitTimeoutMs)), ['p0'])
    })

    it('a waiting poll wakes up as soon as a record is appended', opts, async () => {
      const topic = await ctx.createTopic(1)
      const tp = { topic, partition: 0 }
      const consumer = ctx.consumer()
      await consumer.assign([tp])
      await consumer.seek(tp, 0)
      const timeoutMs = ctx.waitTimeoutMs * 2
      const started = Date.now()
      const pending = consumer.poll({ timeoutMs })
      await ctx.producer().send([{ ...tp, value: bytes('wake') }])
      const got = await pending
      const elapsed = Date.now() - started
      assert.deepEqual(valuesOf(got), ['wake'])
      assert.ok(elapsed < timeoutMs / 2, `poll returned after ${elapsed} ms of a ${timeoutMs} ms timeout`)
    })

    it('an aborted signal ends a waiting poll early', opts, async () => {
      const topic = await ctx.createTopic(1)
      const consumer = ctx.consumer()
      await consumer.assign([{ topic, partition: 0 }])
      await consumer.poll({ timeoutMs: 0 })
      const timeoutMs = ctx.waitTimeoutMs * 2
      const controller = new AbortController()
      const started = Date.now()
      const pending = consumer.poll({ timeoutMs, signal: controller.signal })
      controller.abort()
      // The contract does not say whether an aborted poll resolves empty or rejects; either ends the wait.
      const outcome = await pending.then(
        (records) => ({ records }),
        (error: unknown) => ({ error }),
      )
      const elapsed = Date.now() - started
      if ('records' in outcome) assert.deepEqual(outcome.records, [])
      else assert.equal((outcome.error as Error).name, 'AbortError')
      assert.ok(elapsed < timeoutMs / 2, `poll ended after ${elapsed} ms of a ${timeoutMs} ms timeout`)
    })

    it('maxRecords bounds one poll; the next poll continues without loss or repeat', opts, async () => {
      const topic = await ctx.createTopic(1)
      const tp = { topic, partition: 0 }
      await ctx.producer().send(Array.from({ length: 7 }, (_, i) => ({ ...tp, value: bytes(`v${i}`) })))
      const consumer = ctx.consumer({ autoOffsetReset: 'earliest' })
      await consumer.assign([tp])
      const seen: ConsumedRecord[] = []
      const deadline = Date.now() + ctx.waitTimeoutMs
      while (seen.length < 7 && Date.now() < deadline) {
        const batch = await consumer.poll({ timeoutMs: 50, maxRecords: 3 })
        assert.ok(batch.length <= 3, `poll returned ${batch.length} records with maxRecords 3`)
        seen.push(...batch)
      }
      assert.deepEqual(
        valuesOf(seen),
        Array.from({ length: 7 }, (_, i) => `v${i}`),
      )
    })

    it('maxBytesPerPartition bounds a poll, yet a record above it is still returned', opts, async () => {
      const topic = await ctx.createTopic(2)
      const producer = ctx.producer()
      // One send per record: Kafka bounds fetches by whole batches, so records must not share one.
      for (let i = 0; i < 10; i++) {
        await producer.send([{ topic, partition: 0, value: Buffer.alloc(1000, i) }])
        await producer.send([{ topic, partition: 1, value: Buffer.alloc(5000, i) }])
      }
      const maxBytesPerPartition = 2500
      const consumer = ctx.consumer({ autoOffsetReset: 'earliest', maxBytesPerPartition })
      await consumer.assign(partitionsOf(topic, 2))
      const seen: ConsumedRecord[] = []
      const deadline = Date.now() + ctx.waitTimeoutMs
      while (seen.length < 20 && Date.now() < deadline) {
        const batch = await consumer.poll({ timeoutMs: 50 })
        for (const partition of [0, 1]) {
          const part = ofPartition(batch, { topic, partition })
          const size = part.reduce((n, r) => n + (r.value?.length ?? 0) + (r.key?.length ?? 0), 0)
          assert.ok(
            part.length <= 1 || size <= maxBytesPerPartition,
            `poll returned ${part.length} records, ${size} bytes, of partition ${partition}`,
          )
        }
        seen.push(...batch)
      }
      for (const partition of [0, 1]) {
        const got = ofPartition(seen, { topic, partition })
        assert.deepEqual(
          got.map((r) => r.offset),
          Array.from({ length: 10 }, (_, i) => i),
          `all of partition ${partition}, in order`,
        )
      }
    })
  })
}
