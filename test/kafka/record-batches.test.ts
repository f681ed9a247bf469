// Decoding fetched batches: control batches dropped, aborted transactions skipped under read_committed only.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import type { RecordsBatch } from '@platformatic/kafka'
import { decodeBatches } from '../../src/kafka/record-batches.ts'

const TXN = 0x10
const CONTROL = 0x20

function batch(firstOffset: number, values: string[], producerId = -1, attributes = 0): RecordsBatch {
  return {
    firstOffset: BigInt(firstOffset),
    length: 0,
    partitionLeaderEpoch: 0,
    magic: 2,
    crc: 0,
    attributes,
    lastOffsetDelta: values.length - 1,
    firstTimestamp: 1000n,
    maxTimestamp: 1000n,
    producerId: BigInt(producerId),
    producerEpoch: 0,
    firstSequence: 0,
    records: values.map((v, i) => ({
      length: 0,
      attributes: 0,
      timestampDelta: BigInt(i),
      offsetDelta: i,
      key: null,
      value: Buffer.from(v),
      headers: [],
    })),
  }
}

/** A control batch: key = version 0, type 0 (abort) or 1 (commit). */
function marker(offset: number, producerId: number, commit: boolean): RecordsBatch {
  const b = batch(offset, ['x'], producerId, TXN | CONTROL)
  b.records[0].key = Buffer.from([0, 0, 0, commit ? 1 : 0])
  return b
}

const batches = [
  batch(0, ['plain-0', 'plain-1']),
  batch(2, ['aborted'], 7, TXN),
  batch(3, ['committed'], 8, TXN),
  marker(4, 7, false),
  marker(5, 8, true),
  batch(6, ['after'], 7, TXN),
  marker(7, 7, true),
]
const common = { topic: 't', partition: 0, from: 0, maxRecords: Number.POSITIVE_INFINITY }
const values = (d: ReturnType<typeof decodeBatches>) => d.records.map((r) => r.value?.toString())

it('read_committed skips the aborted transaction and the markers', () => {
  const aborted = [{ producerId: 7n, firstOffset: 2n }]
  const d = decodeBatches(batches, { ...common, readCommitted: true, aborted })
  assert.deepEqual(values(d), ['plain-0', 'plain-1', 'committed', 'after'])
  assert.equal(d.next, 8)
})

it('read_uncommitted returns every data record', () => {
  const d = decodeBatches(batches, { ...common, readCommitted: false, aborted: [] })
  assert.deepEqual(values(d), ['plain-0', 'plain-1', 'aborted', 'committed', 'after'])
})

it('starts inside a batch and stops at maxRecords with the next offset right after', () => {
  const d = decodeBatches(batches, { ...common, from: 1, maxRecords: 2, readCommitted: false, aborted: [] })
  assert.deepEqual(values(d), ['plain-1', 'aborted'])
  assert.equal(d.next, 3)
  assert.deepEqual(
    d.records.map((r) => [r.offset, r.timestamp]),
    [
      [1, 1001],
      [2, 1000],
    ],
  )
})
