// Pins the on-disk bytes of encodeBatch to a slow, obviously-correct reference encoder written from the format's
// header comment, so that speed work on the encoder and decoder cannot change the format.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { crc32c } from '@node-rs/crc32'
import fc from 'fast-check'
import type { Header, LogRecord } from '../../../src/log/contract.ts'
import {
  type BatchInput,
  decodeRecords,
  encodeBatch,
  encodeTransientBatch,
} from '../../../src/log/embedded/record-batch.ts'

/** Kafka's varlong: zigzag, then 7 bits per byte, low bits first. */
function varint(n: number): number[] {
  let z = BigInt(n) >= 0n ? BigInt(n) * 2n : -BigInt(n) * 2n - 1n
  const out: number[] = []
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80)
    z >>= 7n
  }
  out.push(Number(z))
  return out
}

function int64(n: number): number[] {
  const b = Buffer.alloc(8)
  b.writeBigInt64BE(BigInt(n))
  return [...b]
}

function int32(n: number): number[] {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return [...b]
}

function int16(n: number): number[] {
  const b = Buffer.alloc(2)
  b.writeInt16BE(n)
  return [...b]
}

function referenceEncode(input: BatchInput): Buffer {
  const base = input.records[0].timestamp
  const body: number[] = []
  input.records.forEach((r, i) => {
    const rec: number[] = [0, ...varint(r.timestamp - base), ...varint(input.offsetDeltas?.[i] ?? i)]
    if (r.key == null) rec.push(...varint(-1))
    else rec.push(...varint(r.key.length), ...r.key)
    if (r.value === null) rec.push(...varint(-1))
    else rec.push(...varint(r.value.length), ...r.value)
    const headers = r.headers ?? []
    rec.push(...varint(headers.length))
    for (const [k, v] of headers) {
      const kb = Buffer.from(k, 'utf8')
      rec.push(...varint(kb.length), ...kb, ...varint(v.length), ...v)
    }
    body.push(...varint(rec.length), ...rec)
  })
  const afterCrc = [
    2, // magic
    ...int16(input.attributes ?? 0),
    ...int32(input.offsetDeltas?.at(-1) ?? input.records.length - 1),
    ...int64(base),
    ...int64(Math.max(...input.records.map((r) => r.timestamp))),
    ...int64(input.producerId ?? -1),
    ...int16(input.producerEpoch ?? -1),
    ...int32(input.baseSequence ?? -1),
    ...int64(input.deleteHorizon ?? -1),
    ...int32(input.records.length),
    ...body,
  ]
  const beforeCrc = [...int64(input.baseOffset), ...int32(4 + afterCrc.length)]
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32c(Buffer.from([...beforeCrc, ...afterCrc])))
  return Buffer.from([...beforeCrc, ...crc, ...afterCrc])
}

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a))
const header: fc.Arbitrary<Header> = fc.tuple(fc.string({ unit: 'grapheme', maxLength: 8 }), bytes(20))
// sizes around the one- and two-byte varint boundaries, where fast paths switch
const sized = fc
  .constantFrom(0, 1, 63, 64, 65, 127, 128, 129, 8191, 8192, 16383, 16384)
  .map((n) => Buffer.alloc(n, n & 0xff))
const payload = fc.oneof({ arbitrary: bytes(200), weight: 4 }, { arbitrary: sized, weight: 1 })
const recordArb = fc.record({
  key: fc.option(payload, { nil: null, freq: 4 }),
  value: fc.option(payload, { nil: null, freq: 6 }),
  headers: fc.oneof(fc.constant(undefined), fc.constant([]), fc.array(header, { maxLength: 3 })),
  timestamp: fc.oneof(
    fc.integer({ min: -(2 ** 48), max: 2 ** 48 }),
    fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_200 }),
  ),
})
const batchArb: fc.Arbitrary<BatchInput> = fc
  .array(recordArb, { minLength: 1, maxLength: 40 })
  .chain((records) =>
    fc.record({
      records: fc.constant(records),
      offsetDeltas: fc.option(
        fc
          .array(fc.integer({ min: 1, max: 300 }), { minLength: records.length, maxLength: records.length })
          .map((gaps) => {
            let at = -1
            return gaps.map((g) => (at += g))
          }),
        { nil: undefined },
      ),
      baseOffset: fc.integer({ min: 0, max: 2 ** 52 }),
      attributes: fc.constantFrom(0, 0x10),
      producerId: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 2 ** 50 })),
      producerEpoch: fc.integer({ min: -1, max: 32767 }),
      baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
      deleteHorizon: fc.constant(-1),
    }),
  )

describe('encodeBatch against the reference encoder', () => {
  test('writes exactly the reference bytes', () => {
    fc.assert(
      fc.property(batchArb, (input) => {
        assert.deepEqual(encodeBatch(input), referenceEncode(input))
      }),
      { numRuns: 200 },
    )
  })

  test('encodeTransientBatch writes the same bytes, into a buffer the next call reuses', () => {
    fc.assert(
      fc.property(batchArb, batchArb, (a, b) => {
        const first = encodeTransientBatch(a)
        assert.deepEqual(first, referenceEncode(a))
        const copy = Buffer.from(first)
        assert.deepEqual(encodeTransientBatch(b), referenceEncode(b))
        // the first result may now be overwritten; the copy taken before is intact
        assert.deepEqual(copy, referenceEncode(a))
      }),
      { numRuns: 100 },
    )
    const big = { baseOffset: 0, records: [{ value: Buffer.alloc(2 << 20, 1), timestamp: 5 }] }
    assert.deepEqual(encodeTransientBatch(big), encodeBatch(big))
  })

  test('a fixed batch keeps its golden bytes', () => {
    const buf = encodeBatch({
      baseOffset: 7,
      records: [
        { key: Buffer.from('k'), value: Buffer.from('v1'), timestamp: 1000 },
        { key: null, value: null, headers: [['h', Buffer.from([9])]], timestamp: 1001 },
      ],
    })
    assert.equal(
      buf.toString('hex'),
      '00000000000000070000004a6333b5c3020000000000010000000000' +
        '0003e800000000000003e9ffffffffffffffffffffffffffffffffffffffffffff00000002' +
        '12000000026b047631001400020201010202680209',
    )
  })

  test('decodeRecords reads reference-encoded batches', () => {
    fc.assert(
      fc.property(batchArb, (input) => {
        const out: LogRecord[] = []
        decodeRecords(referenceEncode(input), 0, 0, out)
        assert.equal(out.length, input.records.length)
        out.forEach((r, i) => {
          const want = input.records[i]
          assert.equal(r.offset, input.baseOffset + (input.offsetDeltas?.[i] ?? i))
          assert.equal(r.timestamp, want.timestamp)
          assert.deepEqual(r.key, want.key ?? null)
          assert.deepEqual(r.value, want.value)
          assert.deepEqual(
            r.headers.map(([k, v]) => [k, Buffer.from(v)]),
            (want.headers ?? []).map(([k, v]) => [k, Buffer.from(v)]),
          )
        })
      }),
      { numRuns: 200 },
    )
  })
})
