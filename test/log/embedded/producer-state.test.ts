// Idempotent appends at the partition: a retried batch (same producer id, epoch and sequence) is not written twice
// and gets its original offsets back, also after a restart (producer state from the snapshot plus a scan of the
// active segment); a gap in sequences and an older epoch are refused.
import assert from 'node:assert/strict'
import { unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { TopicConfig } from '../../../src/log/contract.ts'
import { PartitionLog, type ProducerInfo, type RecordInput } from '../../../src/log/embedded/partition-log.ts'
import {
  filesWith,
  plainAll,
  readPartition,
  throwsCode,
  topicConfig,
  useTempDirs,
  VirtualClock,
} from './helpers.ts'

function open(dir: string, clock: VirtualClock, config: TopicConfig = {}): PartitionLog {
  return PartitionLog.open(dir, 'idem', 0, topicConfig(config), { indexIntervalBytes: 4096, now: clock.now })
}

const records = (tag: string, n: number): RecordInput[] =>
  Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`${tag}-${i}`), timestamp: 1000 + i }))

const info = (producerId: number, producerEpoch: number, baseSequence: number): ProducerInfo => ({
  producerId,
  producerEpoch,
  baseSequence,
  transactional: false,
})

describe('idempotent appends', () => {
  const tempDir = useTempDirs('idem', { inMemory: true })

  test('a retried batch returns its offsets as a duplicate and the log grows once', () => {
    const clock = new VirtualClock()
    const dir = tempDir()
    let p = open(dir, clock)
    try {
      const first = p.append(records('a', 3), info(7, 0, 0))
      assert.deepEqual(first, { baseOffset: 0, lastOffset: 2, duplicate: false })
      const again = p.append(records('a', 3), info(7, 0, 0))
      assert.deepEqual(again, { baseOffset: 0, lastOffset: 2, duplicate: true })
      assert.equal(p.highWatermark, 3)
      assert.deepEqual(p.append(records('b', 2), info(7, 0, 3)), {
        baseOffset: 3,
        lastOffset: 4,
        duplicate: false,
      })
      // and after a restart, from the active segment's scan
      p.close()
      p = open(dir, clock)
      assert.deepEqual(p.append(records('b', 2), info(7, 0, 3)), {
        baseOffset: 3,
        lastOffset: 4,
        duplicate: true,
      })
      assert.deepEqual(p.append(records('a', 3), info(7, 0, 0)), {
        baseOffset: 0,
        lastOffset: 2,
        duplicate: true,
      })
      assert.equal(p.highWatermark, 5)
      assert.deepEqual(
        readPartition(p).map((r) => r.value?.toString()),
        ['a-0', 'a-1', 'a-2', 'b-0', 'b-1'],
      )
    } finally {
      p.close()
    }
  })

  test('a sequence gap raises SLUICE_ERR_OUT_OF_ORDER_SEQUENCE and writes nothing', () => {
    const clock = new VirtualClock()
    const p = open(tempDir(), clock)
    try {
      p.append(records('a', 2), info(1, 0, 0))
      throwsCode(() => p.append(records('x', 1), info(1, 0, 3)), 'SLUICE_ERR_OUT_OF_ORDER_SEQUENCE')
      // a batch that starts at a known sequence but has another length is no retry either
      throwsCode(() => p.append(records('x', 1), info(1, 0, 0)), 'SLUICE_ERR_OUT_OF_ORDER_SEQUENCE')
      assert.equal(p.highWatermark, 2)
      assert.deepEqual(p.append(records('b', 1), info(1, 0, 2)), {
        baseOffset: 2,
        lastOffset: 2,
        duplicate: false,
      })
    } finally {
      p.close()
    }
  })

  test('an older epoch raises SLUICE_ERR_PRODUCER_FENCED, also after a restart', () => {
    const clock = new VirtualClock()
    const dir = tempDir()
    let p = open(dir, clock)
    try {
      p.append(records('a', 1), info(4, 0, 0))
      p.append(records('b', 1), info(4, 1, 0)) // a newer epoch starts its own sequence
      throwsCode(() => p.append(records('c', 1), info(4, 0, 1)), 'SLUICE_ERR_PRODUCER_FENCED')
      throwsCode(() => p.append(records('a', 1), info(4, 0, 0)), 'SLUICE_ERR_PRODUCER_FENCED')
      p.close()
      p = open(dir, clock)
      throwsCode(() => p.append(records('c', 1), info(4, 0, 1)), 'SLUICE_ERR_PRODUCER_FENCED')
      assert.deepEqual(p.append(records('b', 1), info(4, 1, 0)), {
        baseOffset: 1,
        lastOffset: 1,
        duplicate: true,
      })
      assert.equal(p.highWatermark, 2)
    } finally {
      p.close()
    }
  })

  // What the property below finds, reduced to a plain regression test.
  test('after producer state was rebuilt without a snapshot, the next restart still knows the last five batches', () => {
    const clock = new VirtualClock()
    const dir = tempDir()
    const config = { 'segment.bytes': 80 } // one batch per segment
    let p = open(dir, clock, config)
    try {
      for (let seq = 0; seq < 4; seq++) p.append(records(`s${seq}`, 1), info(9, 0, seq))
      p.close()
      for (const n of filesWith(dir, '.snapshot')) unlinkSync(join(dir, n))
      p = open(dir, clock, config) // rebuilt from every segment
      p.close()
      p = open(dir, clock, config)
      p.append(records('s4', 1), info(9, 0, 4))
      // sequences 0 to 4 are the last five batches: a retry of the first is a duplicate, not a gap
      assert.deepEqual(p.append(records('s0', 1), info(9, 0, 0)), {
        baseOffset: 0,
        lastOffset: 0,
        duplicate: true,
      })
    } finally {
      p.close()
    }
  })

  type Op =
    | { kind: 'send'; producer: number; count: number }
    | { kind: 'retry'; producer: number; back: number }
    | { kind: 'gap'; producer: number; skip: number }
    | { kind: 'reopen'; dropSnapshots: boolean }

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('send' as const),
        producer: fc.nat(2),
        count: fc.integer({ min: 1, max: 4 }),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('retry' as const),
        producer: fc.nat(2),
        back: fc.oneof(fc.nat(7), fc.integer({ min: 3, max: 5 })),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('gap' as const),
        producer: fc.nat(2),
        skip: fc.integer({ min: 1, max: 3 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('reopen' as const), dropSnapshots: fc.boolean() }),
    },
  )

  test('property: every batch is in the log once; retries of the last five batches are recognised', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 80, max: 600 }),
        fc.array(opArb, { minLength: 1, maxLength: 60, size: 'medium' }),
        (segmentBytes, ops) => {
          const clock = new VirtualClock()
          const dir = tempDir()
          let p = open(dir, clock, { 'segment.bytes': segmentBytes })
          // per producer (ids 100, 200, 300), its batches in order
          const batches: { seq: number; records: RecordInput[]; baseOffset: number; lastOffset: number }[][] =
            [[], [], []]
          const log: string[] = []
          const nextSeq = (i: number) => {
            const last = batches[i].at(-1)
            return last === undefined ? 0 : last.seq + last.records.length
          }
          try {
            for (const op of ops) {
              if (op.kind === 'send') {
                const seq = nextSeq(op.producer)
                const rs = records(`p${op.producer}s${seq}`, op.count)
                const r = p.append(rs, info((op.producer + 1) * 100, 0, seq))
                assert.deepEqual(r, {
                  baseOffset: log.length,
                  lastOffset: log.length + op.count - 1,
                  duplicate: false,
                })
                batches[op.producer].push({
                  seq,
                  records: rs,
                  baseOffset: r.baseOffset,
                  lastOffset: r.lastOffset,
                })
                for (const x of rs) log.push(x.value!.toString())
              } else if (op.kind === 'retry') {
                const mine = batches[op.producer]
                if (mine.length === 0) continue
                const back = op.back % mine.length
                const b = mine[mine.length - 1 - back]
                const retry = () => p.append(b.records, info((op.producer + 1) * 100, 0, b.seq))
                if (back < 5) {
                  assert.deepEqual(
                    retry(),
                    { baseOffset: b.baseOffset, lastOffset: b.lastOffset, duplicate: true },
                    `retry of the batch ${back} back`,
                  )
                } else
                  throwsCode(retry, 'SLUICE_ERR_OUT_OF_ORDER_SEQUENCE', `retry of the batch ${back} back`)
              } else if (op.kind === 'gap') {
                if (batches[op.producer].length === 0) continue
                const seq = nextSeq(op.producer) + op.skip
                throwsCode(
                  () => p.append(records('gap', 1), info((op.producer + 1) * 100, 0, seq)),
                  'SLUICE_ERR_OUT_OF_ORDER_SEQUENCE',
                )
              } else {
                p.close()
                // without snapshots, producer state is rebuilt from every segment
                if (op.dropSnapshots) for (const n of filesWith(dir, '.snapshot')) unlinkSync(join(dir, n))
                p = open(dir, clock, { 'segment.bytes': segmentBytes })
              }
              assert.equal(p.highWatermark, log.length)
            }
            assert.deepEqual(
              plainAll(readPartition(p)).map((r) => Buffer.from(r.value!, 'hex').toString()),
              log,
            )
          } finally {
            p.close()
          }
        },
      ),
      { numRuns: 250 },
    )
  })
})
