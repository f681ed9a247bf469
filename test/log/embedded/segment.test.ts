// Segments: when the log rolls to a new one (by size on append, by age on append and at maintenance), and what is
// on disk afterwards. Torn and damaged segments are covered by test/log/corruption.test.ts.
import assert from 'node:assert/strict'
import { statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { EmbeddedLog } from '../../../src/log/embedded/embedded-log.ts'
import { encodeBatch } from '../../../src/log/embedded/record-batch.ts'
import { segmentFileName } from '../../../src/log/embedded/segment.ts'
import {
  filesWith,
  openLog,
  type PlainRecord,
  partitionDir,
  plain,
  plainAll,
  readPartition,
  useTempDirs,
  VirtualClock,
} from './helpers.ts'

const TOPIC = 'rolled'

type Op = { kind: 'append'; sizes: number[] } | { kind: 'advance'; ms: number } | { kind: 'maintenance' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      sizes: fc.array(fc.nat(150), { minLength: 1, maxLength: 5 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(800) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'maintenance' as const }) },
)

/** Where segments start, by the rule: roll before a batch that would overflow a non-empty segment, or when old. */
class RollModel {
  readonly segments = [{ base: 0, size: 0, batches: 0 }]
  createdAt: number
  next = 0
  readonly segmentBytes: number
  readonly segmentMs: number

  constructor(segmentBytes: number, segmentMs: number, now: number) {
    this.segmentBytes = segmentBytes
    this.segmentMs = segmentMs
    this.createdAt = now
  }

  get active() {
    return this.segments[this.segments.length - 1]
  }

  get bases(): number[] {
    return this.segments.map((s) => s.base)
  }

  #roll(now: number): void {
    this.segments.push({ base: this.next, size: 0, batches: 0 })
    this.createdAt = now
  }

  append(bytes: number, records: number, now: number): void {
    const size = this.active.size
    if (size > 0 && (size + bytes > this.segmentBytes || now - this.createdAt >= this.segmentMs))
      this.#roll(now)
    this.active.size += bytes
    this.active.batches++
    this.next += records
  }

  maintenance(now: number): void {
    if (this.active.size > 0 && now - this.createdAt >= this.segmentMs) this.#roll(now)
  }
}

describe('segment roll', () => {
  const tempDir = useTempDirs('segment', { inMemory: true })

  test('segments start where the size and age rule says; files on disk match; a restart changes nothing', async () => {
    const params = fc.record({
      segmentBytes: fc.integer({ min: 80, max: 1200 }),
      segmentMs: fc.integer({ min: 1, max: 3000 }),
      ops: fc.array(opArb, { minLength: 1, maxLength: 60, size: 'medium' }),
    })
    await fc.assert(
      fc.asyncProperty(params, async ({ segmentBytes, segmentMs, ops }) => {
        const dir = tempDir()
        const clock = new VirtualClock()
        let log: EmbeddedLog = await openLog(dir, clock)
        try {
          await log.admin().createTopic(TOPIC, {
            partitions: 1,
            config: { 'segment.bytes': segmentBytes, 'segment.ms': segmentMs },
          })
          const model = new RollModel(segmentBytes, segmentMs, clock.t)
          const producer = log.producer({ idempotent: false })
          const written: PlainRecord[] = []
          for (const op of ops) {
            if (op.kind === 'advance') clock.advance(op.ms)
            else if (op.kind === 'maintenance') {
              await log.maintenance()
              model.maintenance(clock.t)
            } else {
              const records = op.sizes.map((n, i) => ({
                topic: TOPIC,
                partition: 0,
                value: Buffer.alloc(n, i),
                timestamp: clock.t,
              }))
              model.append(encodeBatch({ baseOffset: 0, records }).length, records.length, clock.t)
              const meta = await producer.send(records)
              for (const [i, m] of meta.entries())
                written.push(plain({ ...records[i], key: null, headers: [], offset: m.offset }))
            }
          }
          const p = log.partition(TOPIC, 0)
          assert.deepEqual(
            p.segments.map((s) => s.baseOffset),
            model.bases,
            'segment base offsets',
          )
          assert.deepEqual(
            p.segments.map((s) => s.size),
            model.segments.map((s) => s.size),
            'segment sizes',
          )
          // sealed segments stay within segment.bytes unless they hold a single, larger batch
          for (const s of model.segments.slice(0, -1))
            assert.ok(s.size <= segmentBytes || s.batches === 1, `segment ${s.base}: ${JSON.stringify(s)}`)
          // one .log, .index and .timeindex per segment, named by base offset, sized as the log says
          const files = partitionDir(dir, TOPIC)
          for (const ext of ['.log', '.index', '.timeindex']) {
            assert.deepEqual(
              filesWith(files, ext),
              model.bases.map((b) => segmentFileName(b, ext)),
            )
          }
          for (const s of p.segments)
            assert.equal(statSync(join(files, segmentFileName(s.baseOffset, '.log'))).size, s.size)
          assert.deepEqual(plainAll(readPartition(p)), written)
          await log.close()
          log = await openLog(dir, clock)
          const again = log.partition(TOPIC, 0)
          assert.deepEqual(
            again.segments.map((s) => [s.baseOffset, s.nextOffset, s.size]),
            p.segments.map((s) => [s.baseOffset, s.nextOffset, s.size]),
          )
          assert.deepEqual(plainAll(readPartition(again)), written)
        } finally {
          await log.close()
        }
      }),
      { numRuns: 60 },
    )
  })

  test('a batch larger than segment.bytes gets a segment of its own', async () => {
    const clock = new VirtualClock()
    const log = await openLog(tempDir(), clock)
    try {
      await log.admin().createTopic(TOPIC, { partitions: 1, config: { 'segment.bytes': 200 } })
      const producer = log.producer()
      const send = (n: number) => producer.send([{ topic: TOPIC, partition: 0, value: Buffer.alloc(n) }])
      await send(1) // 0
      await send(500) // 1: too big to join offset 0
      await send(1) // 2: cannot join the oversized segment
      await send(1) // 3: fits with 2
      const p = log.partition(TOPIC, 0)
      assert.deepEqual(
        p.segments.map((s) => s.baseOffset),
        [0, 1, 2],
      )
      assert.ok(p.segments[1].size > 200)
    } finally {
      await log.close()
    }
  })

  test('by age: on append once segment.ms has passed, and at maintenance; an empty segment never rolls', async () => {
    const clock = new VirtualClock()
    const log = await openLog(tempDir(), clock)
    try {
      await log.admin().createTopic(TOPIC, { partitions: 1, config: { 'segment.ms': 1000 } })
      const producer = log.producer()
      const send = () => producer.send([{ topic: TOPIC, partition: 0, value: Buffer.from('x') }])
      const bases = () => log.partition(TOPIC, 0).segments.map((s) => s.baseOffset)
      await send() // 0
      clock.advance(999)
      await send() // 1
      await log.maintenance()
      assert.deepEqual(bases(), [0], 'not yet')
      clock.advance(1)
      await send() // 2: the segment is now as old as segment.ms
      assert.deepEqual(bases(), [0, 2])
      clock.advance(1000)
      await log.maintenance()
      assert.deepEqual(bases(), [0, 2, 3], 'maintenance rolls an old active segment')
      await log.maintenance()
      clock.advance(5000)
      await log.maintenance()
      assert.deepEqual(bases(), [0, 2, 3], 'and not again while it is empty')
      assert.equal(log.partition(TOPIC, 0).highWatermark, 3)
      assert.equal(readPartition(log.partition(TOPIC, 0)).length, 3)
    } finally {
      await log.close()
    }
  })

  test('a restart does not make the active segment younger', async (t) => {
    // segment.ms counts from the segment's creation (Kafka: from its first record). The clock runs at the wall clock
    // here, and the log file's mtime is set to its last append, as it would be in real time; the log can only know
    // the creation time where the file system records a birth time.
    const dir = tempDir()
    const clock = new VirtualClock(Date.now())
    let log = await openLog(dir, clock)
    try {
      await log.admin().createTopic(TOPIC, { partitions: 1, config: { 'segment.ms': 10_000 } })
      const created = clock.t
      await log.producer().send([{ topic: TOPIC, partition: 0, value: Buffer.from('first') }])
      const file = join(partitionDir(dir, TOPIC), segmentFileName(0, '.log'))
      if (!(statSync(file).birthtimeMs > 0)) {
        t.skip('this file system records no birth time')
        return
      }
      clock.advance(9_000)
      await log.producer().send([{ topic: TOPIC, partition: 0, value: Buffer.from('second') }])
      await log.close()
      utimesSync(file, clock.t / 1000, clock.t / 1000)
      clock.advance(500)
      log = await openLog(dir, clock)
      // well past segment.ms since creation (the slack covers the real time the setup took), not since the restart
      clock.t = created + 12_000
      await log.maintenance()
      assert.deepEqual(
        log.partition(TOPIC, 0).segments.map((s) => s.baseOffset),
        [0, 2],
        'rolled segment.ms after the segment was created, restart or not',
      )
    } finally {
      await log.close()
    }
  })
})
