// Conformance: producing, as a Kafka producer and reader observe it: placement by partition and key, offsets,
// record fidelity (keys, values, nulls, headers, timestamps), size limits, segments and recovery.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ConsumedRecord, Header, ProducerRecord } from '../../../src/log/contract.ts'
import type { LogFactory } from './harness.ts'
import { useLog } from './harness.ts'
import { bytes, ofPartition, partitionsOf, pollUntil, readAll, rejectsWithCode, valuesOf } from './helpers.ts'
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

export function produceTests(factory: LogFactory): void {
  describe('produce', () => {
    const ctx = useLog(factory, 'produce')
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
