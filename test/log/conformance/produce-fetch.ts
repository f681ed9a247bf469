// Conformance: producing (placement, offsets, record fidelity) and fetching (assign, seek, position, poll waits
// and limits), as a Kafka producer and consumer observe them.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ConsumedRecord, Header, ProducerRecord } from '../../../src/log/contract.ts'
import type { LogFactory } from './harness.ts'
import { useLog } from './harness.ts'
import {
  bytes,
  ofPartition,
  partitionsOf,
  pollUntil,
  readAll,
  rejectsWithCode,
  sortTps,
  valuesOf,
} from './helpers.ts'
import { kafkaPartitionForKey } from './murmur2.ts'

const view = (r: ConsumedRecord) => ({
  topic: r.topic,
  partition: r.partition,
  offset: r.offset,
  timestamp: r.timestamp,
  key: r.key,
  value: r.value,
  headers: r.headers.map(([k, v]) => [k, v]),
})

export function produceFetchTests(factory: LogFactory): void {
  describe('produce and fetch', () => {
    const ctx = useLog(factory, 'pf')
    const opts = { timeout: ctx.testTimeoutMs }

    it('offsets are consecutive per partition from 0, metadata in input order', opts, async () => {
      const topic = await ctx.createTopic(2)
      const producer = ctx.producer()
      const partitions = [0, 1, 0, 0, 1, 0, 1, 0]
      const meta = await producer.send(
        partitions.map((partition, i) => ({ topic, partition, value: bytes(`${i}`) })),
      )
      assert.equal(meta.length, partitions.length)
      assert.deepEqual(
        meta.map((m) => [m.topic, m.partition, m.offset]),
        [
          [topic, 0, 0],
          [topic, 1, 0],
          [topic, 0, 1],
          [topic, 0, 2],
          [topic, 1, 1],
          [topic, 0, 3],
          [topic, 1, 2],
          [topic, 0, 4],
        ],
      )
      const more = await producer.send([
        { topic, partition: 1, value: bytes('a') },
        { topic, partition: 0, value: bytes('b') },
      ])
      assert.deepEqual(
        more.map((m) => [m.partition, m.offset]),
        [
          [1, 3],
          [0, 5],
        ],
      )
      const records = await readAll(ctx, partitionsOf(topic, 2), 'read_uncommitted')
      for (const partition of [0, 1]) {
        const offsets = ofPartition(records, { topic, partition }).map((r) => r.offset)
        assert.deepEqual(
          offsets,
          offsets.map((_, i) => i),
          `partition ${partition} offsets`,
        )
      }
      assert.deepEqual(valuesOf(ofPartition(records, { topic, partition: 0 })), [
        '0',
        '2',
        '3',
        '5',
        '7',
        'b',
      ])
      assert.deepEqual(valuesOf(ofPartition(records, { topic, partition: 1 })), ['1', '4', '6', 'a'])
    })

    it('sending no records resolves to no metadata', opts, async () => {
      assert.deepEqual(await ctx.producer().send([]), [])
    })

    it('many segments: reads, timestamp lookups and recovery cross segment boundaries', opts, async () => {
      // 1 MiB is the smallest segment size recent Kafka versions accept.
      const topic = await ctx.createTopic(1, { 'segment.bytes': 1024 * 1024 })
      const tp = { topic, partition: 0 }
      const producer = ctx.producer()
      const count = 40
      for (let i = 0; i < count; i++) {
        await producer.send([
          { ...tp, key: bytes(`k${i}`), value: Buffer.alloc(100_000, i), timestamp: 10_000 + i * 10 },
        ])
      }
      const check = async () => {
        const records = await readAll(ctx, [tp], 'read_uncommitted')
        assert.deepEqual(
          records.map((r) => r.offset),
          Array.from({ length: count }, (_, i) => i),
        )
        records.forEach((r, i) => {
          assert.ok(r.value?.equals(Buffer.alloc(100_000, i)), `value of offset ${i}`)
        })
        for (const i of [0, 1, 11, 25, 39]) {
          assert.equal(await ctx.admin.listOffsets(topic, 0, { timestamp: 10_000 + i * 10 - 5 }), i)
        }
        const consumer = ctx.consumer()
        await consumer.assign([tp])
        await consumer.seek(tp, 27)
        assert.equal((await pollUntil(consumer, (r) => r.length >= 1, ctx.waitTimeoutMs))[0].offset, 27)
      }
      await check()
      if (factory.reopen) {
        await ctx.reopen()
        await check()
      }
    })

    it('an explicit partition wins over the key', opts, async () => {
      const topic = await ctx.createTopic(4)
      const key = bytes('pinned')
      const target = (kafkaPartitionForKey(key, 4) + 1) % 4
      const [m] = await ctx.producer().send([{ topic, partition: target, key, value: bytes('v') }])
      assert.equal(m.partition, target)
    })

    it("keyed records go where Kafka's murmur2 partitioner puts them, every time", opts, async () => {
      const topic = await ctx.createTopic(5)
      const keys = Array.from({ length: 40 }, (_, i) => bytes(`user-${i}`))
      const producer = ctx.producer()
      const first = await producer.send(keys.map((key) => ({ topic, key, value: bytes('1') })))
      const second = await ctx.producer().send(keys.map((key) => ({ topic, key, value: bytes('2') })))
      keys.forEach((key, i) => {
        const expected = kafkaPartitionForKey(key, 5)
        assert.equal(first[i].partition, expected, `key ${key}`)
        assert.equal(second[i].partition, expected, `key ${key}, second producer`)
      })
      const binaryKey = Buffer.from([0, 255, 128, 7, 42])
      const [b] = await producer.send([{ topic, key: binaryKey, value: null }])
      assert.equal(b.partition, kafkaPartitionForKey(binaryKey, 5))
      const records = await readAll(ctx, partitionsOf(topic, 5), 'read_uncommitted')
      for (const r of records) {
        if (r.key !== null) assert.equal(r.partition, kafkaPartitionForKey(r.key, 5), 'stored where reported')
      }
    })

    it('records without key or partition land in a valid partition and are readable', opts, async () => {
      const topic = await ctx.createTopic(3)
      const meta = await ctx
        .producer()
        .send(Array.from({ length: 10 }, (_, i) => ({ topic, value: bytes(`n${i}`) })))
      for (const m of meta) assert.ok(m.partition >= 0 && m.partition < 3, `partition ${m.partition}`)
      const records = await readAll(ctx, partitionsOf(topic, 3), 'read_uncommitted')
      assert.deepEqual(valuesOf(records).sort(), Array.from({ length: 10 }, (_, i) => `n${i}`).sort())
    })

    it('records round-trip key, value, null, empty bytes, headers and timestamp exactly', opts, async () => {
      const topic = await ctx.createTopic(1)
      const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
      const headers: Header[] = [
        ['trace', bytes('a')],
        ['bin', allBytes],
        ['trace', bytes('b')],
        ['empty', Buffer.alloc(0)],
        ['ünï-códe', bytes('✓')],
      ]
      const sent: ProducerRecord[] = [
        { topic, partition: 0, key: bytes('k1'), value: bytes('v1'), headers, timestamp: 1_600_000_000_123 },
        { topic, partition: 0, key: null, value: null, timestamp: 1_600_000_000_000 },
        { topic, partition: 0, value: Buffer.alloc(0), key: Buffer.alloc(0), timestamp: 5 },
        { topic, partition: 0, key: allBytes, value: allBytes, headers: [], timestamp: 1_700_000_000_000 },
      ]
      const meta = await ctx.producer().send(sent)
      assert.deepEqual(
        meta.map((m) => m.timestamp),
        sent.map((r) => r.timestamp),
        'metadata carries the given timestamps',
      )
      const records = await readAll(ctx, [{ topic, partition: 0 }], 'read_uncommitted')
      assert.deepEqual(records.map(view), [
        {
          topic,
          partition: 0,
          offset: 0,
          timestamp: 1_600_000_000_123,
          key: bytes('k1'),
          value: bytes('v1'),
          headers,
        },
        { topic, partition: 0, offset: 1, timestamp: 1_600_000_000_000, key: null, value: null, headers: [] },
        {
          topic,
          partition: 0,
          offset: 2,
          timestamp: 5,
          key: Buffer.alloc(0),
          value: Buffer.alloc(0),
          headers: [],
        },
        {
          topic,
          partition: 0,
          offset: 3,
          timestamp: 1_700_000_000_000,
          key: allBytes,
          value: allBytes,
          headers: [],
        },
      ])
      for (const r of records) {
        if (r.key !== null) assert.ok(Buffer.isBuffer(r.key), 'keys are Buffers')
        if (r.value !== null) assert.ok(Buffer.isBuffer(r.value), 'values are Buffers')
      }
    })

    it(
      'a record without timestamp gets the append time, the same in metadata and on read',
      opts,
      async () => {
        const topic = await ctx.createTopic(1)
        const before = Date.now()
        const [m] = await ctx.producer().send([{ topic, partition: 0, value: bytes('now') }])
        const after = Date.now()
        assert.ok(m.timestamp >= before - 1000 && m.timestamp <= after + 1000, `timestamp ${m.timestamp}`)
        const [r] = await readAll(ctx, [{ topic, partition: 0 }], 'read_uncommitted')
        assert.equal(r.timestamp, m.timestamp)
      },
    )

    it(
      'a negative timestamp is refused with SLUICE_ERR_INVALID_ARGUMENT, as Kafka refuses it',
      opts,
      async () => {
        // Kafka reserves -1 for "no timestamp"; its producer rejects any negative timestamp.
        const topic = await ctx.createTopic(1)
        await rejectsWithCode(
          () => ctx.producer().send([{ topic, partition: 0, value: bytes('x'), timestamp: -5 }]),
          'SLUICE_ERR_INVALID_ARGUMENT',
        )
        assert.equal(await ctx.admin.listOffsets(topic, 0, 'latest'), 0)
      },
    )

    it('large values round-trip', opts, async () => {
      const topic = await ctx.createTopic(1)
      const big = Buffer.alloc(300_000)
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff
      await ctx.producer().send([{ topic, partition: 0, key: bytes('big'), value: big }])
      const [r] = await readAll(ctx, [{ topic, partition: 0 }], 'read_uncommitted')
      assert.ok(r.value?.equals(big), 'value intact')
    })

    it('a record above max.message.bytes fails with SLUICE_ERR_RECORD_TOO_LARGE', opts, async () => {
      const topic = await ctx.createTopic(1, { 'max.message.bytes': 1024 })
      const producer = ctx.producer()
      await rejectsWithCode(
        () => producer.send([{ topic, partition: 0, value: Buffer.alloc(4096) }]),
        'SLUICE_ERR_RECORD_TOO_LARGE',
      )
      const [m] = await producer.send([{ topic, partition: 0, value: Buffer.alloc(100) }])
      assert.equal(m.offset, 0, 'the rejected record took no offset')
    })

    it('a compacted topic rejects records without a key, as Kafka does', opts, async () => {
      const topic = await ctx.createTopic(1, { 'cleanup.policy': 'compact' })
      const producer = ctx.producer()
      await rejectsWithCode(
        () => producer.send([{ topic, partition: 0, value: bytes('no key') }]),
        'SLUICE_ERR_INVALID_ARGUMENT',
      )
      const [m] = await producer.send([{ topic, partition: 0, key: bytes('k'), value: null }])
      assert.equal(m.offset, 0, 'keyed records and tombstones are accepted')
    })

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

    it('records survive close and reopen', { ...opts, skip: !factory.reopen }, async () => {
      const topic = await ctx.createTopic(2)
      const sent = Array.from({ length: 20 }, (_, i) => ({
        topic,
        partition: i % 2,
        key: bytes(`k${i}`),
        value: bytes(`v${i}`),
        headers: [['h', bytes(`${i}`)]] as Header[],
        timestamp: 1_000 + i,
      }))
      await ctx.producer().send(sent)
      const before = (await readAll(ctx, partitionsOf(topic, 2), 'read_uncommitted')).map(view)
      await ctx.reopen()
      const after = (await readAll(ctx, partitionsOf(topic, 2), 'read_uncommitted')).map(view)
      assert.equal(after.length, 20)
      const byPosition = (a: ReturnType<typeof view>, b: ReturnType<typeof view>) =>
        a.partition - b.partition || a.offset - b.offset
      assert.deepEqual(after.sort(byPosition), before.sort(byPosition))
      const [m] = await ctx.producer().send([{ topic, partition: 0, value: bytes('next') }])
      assert.equal(m.offset, 10, 'appends continue after the recovered end')
    })
  })
}
