// Retention of a partition (cleanup.policy=delete): by time and by size, whole sealed segments go, oldest first,
// the log start offset moves up, reads below it are refused, the active segment always stays, and consumers left
// below the start reset as autoOffsetReset says.
import assert from 'node:assert/strict'
import { existsSync, statSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { EmbeddedLog } from '../../../src/log/embedded/embedded-log.ts'
import { segmentFileName } from '../../../src/log/embedded/segment.ts'
import {
  openLog,
  type PlainRecord,
  partitionDir,
  plain,
  plainAll,
  readPartition,
  throwsCode,
  useTempDirs,
  VirtualClock,
} from './helpers.ts'

const TOPIC = 'retained'

type Op =
  | { kind: 'append'; records: { size: number; jitter: number }[] }
  | { kind: 'advance'; ms: number }
  | { kind: 'maintenance' }
  | { kind: 'reopen' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      records: fc.array(fc.record({ size: fc.nat(120), jitter: fc.integer({ min: -300, max: 300 }) }), {
        minLength: 1,
        maxLength: 5,
      }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(1500) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'maintenance' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
)

const paramsArb = fc.record({
  segmentBytes: fc.integer({ min: 100, max: 800 }),
  retentionMs: fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: 4000 })),
  retentionBytes: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 3000 })),
  ops: fc.array(opArb, { minLength: 1, maxLength: 60, size: 'medium' }),
})

describe('retention', () => {
  const tempDir = useTempDirs('retention', { inMemory: true })

  test('deletes the oldest sealed segments past retention.ms or beyond retention.bytes, and nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(paramsArb, async ({ segmentBytes, retentionMs, retentionBytes, ops }) => {
        const dir = tempDir()
        const files = partitionDir(dir, TOPIC)
        const clock = new VirtualClock()
        let log: EmbeddedLog = await openLog(dir, clock)
        const written: PlainRecord[] = []
        try {
          await log.admin().createTopic(TOPIC, {
            partitions: 1,
            config: {
              'segment.bytes': segmentBytes,
              'retention.ms': retentionMs,
              'retention.bytes': retentionBytes,
            },
          })
          let producer = log.producer()
          for (const op of ops) {
            if (op.kind === 'advance') clock.advance(op.ms)
            else if (op.kind === 'append') {
              const records = op.records.map((r, i) => ({
                topic: TOPIC,
                partition: 0,
                value: Buffer.alloc(r.size, i),
                timestamp: clock.t + r.jitter,
              }))
              const meta = await producer.send(records)
              for (const [i, m] of meta.entries())
                written.push(plain({ ...records[i], key: null, headers: [], offset: m.offset }))
            } else if (op.kind === 'reopen') {
              const before = log.partition(TOPIC, 0)
              const state = [before.logStartOffset, before.highWatermark, plainAll(readPartition(before))]
              await log.close()
              log = await openLog(dir, clock)
              producer = log.producer()
              const after = log.partition(TOPIC, 0)
              assert.deepEqual(
                [after.logStartOffset, after.highWatermark, plainAll(readPartition(after))],
                state,
              )
            } else {
              // the reference: segment by segment from the oldest, as long as one is expired or the rest is too big
              const p = log.partition(TOPIC, 0)
              const segments = p.segments.map((s) => ({
                base: s.baseOffset,
                next: s.nextOffset,
                size: statSync(join(files, segmentFileName(s.baseOffset, '.log'))).size,
              }))
              const highWatermark = p.highWatermark
              let total = segments.reduce((n, s) => n + s.size, 0)
              let gone = 0
              while (gone < segments.length - 1) {
                const s = segments[gone]
                const maxTs = Math.max(
                  ...written.filter((r) => r.offset >= s.base && r.offset < s.next).map((r) => r.timestamp),
                )
                const expired = retentionMs >= 0 && clock.t - maxTs > retentionMs
                const oversize = retentionBytes >= 0 && total - s.size >= retentionBytes
                if (!expired && !oversize) break
                total -= s.size
                gone++
              }
              const report = await log.maintenance()
              assert.equal(report.segmentsDeleted, gone, 'segments deleted')
              assert.deepEqual(
                p.segments.map((s) => s.baseOffset),
                segments.slice(gone).map((s) => s.base),
                'segments left',
              )
              for (const s of segments.slice(0, gone))
                for (const ext of ['.log', '.index', '.timeindex', '.snapshot'])
                  assert.ok(!existsSync(join(files, segmentFileName(s.base, ext))), `${s.base}${ext} deleted`)
              assert.equal(p.highWatermark, highWatermark, 'the high watermark stays')
            }
            // after every step: reads start at the log start, and below it is out of range
            const p = log.partition(TOPIC, 0)
            const start = p.logStartOffset
            assert.deepEqual(
              plainAll(readPartition(p)),
              written.filter((r) => r.offset >= start),
            )
            assert.equal(await log.admin().listOffsets(TOPIC, 0, 'earliest'), start)
            assert.equal((await log.admin().describeTopic(TOPIC)).partitions[0].logStartOffset, start)
            if (start > 0) {
              throwsCode(() => p.read(start - 1, 1000, 'read_uncommitted'), 'SLUICE_ERR_OFFSET_OUT_OF_RANGE')
              throwsCode(() => p.read(0, 1000, 'read_committed'), 'SLUICE_ERR_OFFSET_OUT_OF_RANGE')
            }
            throwsCode(
              () => p.read(p.highWatermark + 1, 1000, 'read_uncommitted'),
              'SLUICE_ERR_OFFSET_OUT_OF_RANGE',
            )
          }
        } finally {
          await log.close()
        }
      }),
      { numRuns: 80 },
    )
  })

  test('by time: the active segment stays until segment.ms rolls it, then goes once expired', async () => {
    const clock = new VirtualClock()
    const log = await openLog(tempDir(), clock)
    try {
      await log.admin().createTopic(TOPIC, {
        partitions: 1,
        config: { 'retention.ms': 1000, 'segment.ms': 5000 },
      })
      const p = log.partition(TOPIC, 0)
      const producer = log.producer()
      await producer.send([0, 1, 2].map((i) => ({ topic: TOPIC, partition: 0, value: Buffer.from(`${i}`) })))
      clock.advance(4999)
      await log.maintenance()
      assert.deepEqual(
        [p.logStartOffset, p.highWatermark, p.segments.length],
        [0, 3, 1],
        'active data is kept',
      )
      clock.advance(1)
      let report = await log.maintenance() // rolls, and the sealed segment is 5 s old: deleted right away
      assert.equal(report.segmentsDeleted, 1)
      assert.deepEqual([p.logStartOffset, p.highWatermark, p.segments.length], [3, 3, 1])
      assert.deepEqual(readPartition(p), [])
      report = await log.maintenance()
      assert.equal(report.segmentsDeleted, 0, 'the empty active segment is never deleted')
      assert.equal(p.segments.length, 1)
      const [m] = await producer.send([{ topic: TOPIC, partition: 0, value: Buffer.from('3') }])
      assert.equal(m.offset, 3)
      assert.deepEqual(
        readPartition(p).map((r) => r.value?.toString()),
        ['3'],
      )
    } finally {
      await log.close()
    }
  })

  test('by time, after a restart rebuilt the time indexes, a segment holding recent records is kept', async () => {
    // Time indexes are not fsynced and are rebuilt when unusable (after a crash); here the file is simply gone.
    const dir = tempDir()
    const clock = new VirtualClock()
    const t = clock.t
    let log = await openLog(dir, clock)
    try {
      await log.admin().createTopic(TOPIC, {
        partitions: 1,
        config: { 'retention.ms': 3000, 'segment.bytes': 200 },
      })
      const producer = log.producer()
      const send = (ts: number) =>
        producer.send([{ topic: TOPIC, partition: 0, value: Buffer.from('x'), timestamp: ts }])
      await send(t) // 0 ┐ segment 0
      await send(t + 5000) // 1 ┘ a recent record, not at an index entry
      await send(t + 5000) // 2 ┐ segment 2
      await send(t + 5000) // 3 ┘
      assert.deepEqual(
        log.partition(TOPIC, 0).segments.map((s) => s.baseOffset),
        [0, 2],
      )
      await log.close()
      unlinkSync(join(partitionDir(dir, TOPIC), segmentFileName(0, '.timeindex')))
      log = await openLog(dir, clock) // rebuilds segment 0's time index from its batches
      await log.close()
      log = await openLog(dir, clock)
      clock.t = t + 5010
      await log.maintenance()
      assert.equal(log.partition(TOPIC, 0).logStartOffset, 0, 'record 1 is 10 ms old: segment 0 must stay')
      assert.equal(readPartition(log.partition(TOPIC, 0)).length, 4)
    } finally {
      await log.close()
    }
  })
})

describe('consumers below the log start', () => {
  const tempDir = useTempDirs('retention-consumer', { inMemory: true })

  async function setup(): Promise<{ log: EmbeddedLog; clock: VirtualClock }> {
    const clock = new VirtualClock()
    const log = await openLog(tempDir(), clock)
    await log.admin().createTopic(TOPIC, {
      partitions: 1,
      config: { 'retention.ms': 1000, 'segment.bytes': 150 },
    })
    const producer = log.producer()
    for (let i = 0; i < 6; i++)
      await producer.send([{ topic: TOPIC, partition: 0, value: Buffer.from(`old${i}`) }])
    return { log, clock }
  }

  async function expire(log: EmbeddedLog, clock: VirtualClock): Promise<number> {
    clock.advance(2000)
    await log.maintenance()
    const start = log.partition(TOPIC, 0).logStartOffset
    assert.ok(start > 0 && start < 6, `retention removed some but not all (log start ${start})`)
    return start
  }

  const tp = { topic: TOPIC, partition: 0 }

  test("autoOffsetReset 'earliest' resumes at the new log start", async () => {
    const { log, clock } = await setup()
    try {
      const consumer = log.consumer({ autoOffsetReset: 'earliest' })
      await consumer.assign([tp])
      await consumer.seek(tp, 0)
      const start = await expire(log, clock)
      const records = await consumer.poll()
      assert.deepEqual(
        records.map((r) => r.offset),
        Array.from({ length: 6 - start }, (_, i) => start + i),
      )
      assert.equal(consumer.position(tp), 6)
      // seeking below the start again is accepted, as in Kafka; the next poll resets
      await consumer.seek(tp, start - 1)
      assert.equal((await consumer.poll())[0]?.offset, start)
      await consumer.close()
    } finally {
      await log.close()
    }
  })

  test("autoOffsetReset 'latest' skips to the end and then reads new records", async () => {
    const { log, clock } = await setup()
    try {
      const consumer = log.consumer({ autoOffsetReset: 'latest' })
      await consumer.assign([tp])
      await consumer.seek(tp, 0)
      await expire(log, clock)
      assert.deepEqual(await consumer.poll(), [])
      assert.equal(consumer.position(tp), 6)
      await log.producer().send([{ topic: TOPIC, partition: 0, value: Buffer.from('new') }])
      const records = await consumer.poll()
      assert.deepEqual(
        records.map((r) => [r.offset, r.value?.toString()]),
        [[6, 'new']],
      )
      await consumer.close()
    } finally {
      await log.close()
    }
  })

  test('a committed group offset below the log start resets too', async () => {
    const { log, clock } = await setup()
    try {
      const first = log.consumer({ groupId: 'g', autoOffsetReset: 'earliest' })
      await first.subscribe([TOPIC])
      await first.commit([{ ...tp, offset: 1 }])
      await first.close()
      const start = await expire(log, clock)
      const second = log.consumer({ groupId: 'g', autoOffsetReset: 'earliest' })
      await second.subscribe([TOPIC])
      assert.equal((await second.committed([tp])).get(`${TOPIC}:0`), 1)
      const records = await second.poll()
      assert.equal(records[0]?.offset, start)
      assert.equal(second.position(tp), 6)
      await second.close()
    } finally {
      await log.close()
    }
  })
})
