// Property tests of the on-disk batch format: what encodeBatch writes, readHeader, checkBatch and decodeRecords give
// back unchanged, and any damage to the CRC-covered bytes is caught.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { crc32c } from '@node-rs/crc32'
import fc from 'fast-check'
import type { Header, LogRecord } from '../../../src/log/contract.ts'
import {
  ATTR_CONTROL,
  ATTR_TRANSACTIONAL,
  BATCH_HEADER_SIZE,
  type BatchInput,
  CONTROL_ABORT,
  CONTROL_COMMIT,
  checkBatch,
  controlType,
  decodeRecords,
  encodeBatch,
  encodeControlBatch,
  isControl,
  isTransactional,
  LOG_OVERHEAD,
  lastOffsetOf,
  peekBatchSize,
  readHeader,
  readInt64,
  setBaseOffset,
  writeInt64,
} from '../../../src/log/embedded/record-batch.ts'
import { plainAll } from './helpers.ts'

const RUNS = { numRuns: 300 }

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a))
const nullable = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null, freq: 4 })

// Header keys: a few that repeat within one record, and arbitrary (well-formed) unicode, astral planes included.
const headerKey = fc.oneof(
  fc.constantFrom('', 'trace', 'é', '键', '🙂'),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
)
const header: fc.Arbitrary<Header> = fc.tuple(headerKey, bytes(24))

// Epoch-millisecond timestamps far either side of zero; deltas within a batch of up to 2^49.
const timestamp = fc.integer({ min: -(2 ** 48), max: 2 ** 48 })

const recordArb = fc.record({
  key: nullable(bytes(40)),
  value: nullable(bytes(300)),
  headers: fc.oneof(fc.constant(undefined), fc.array(header, { maxLength: 5 })),
  timestamp,
})

/** Strictly increasing deltas from a start that may be past 0 (compaction removes first records too). */
const deltasFor = (count: number) =>
  fc
    .tuple(
      fc.nat(1000),
      fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: count - 1, maxLength: count - 1 }),
    )
    .map(([start, gaps]) => {
      const out = [start]
      for (const g of gaps) out.push(out[out.length - 1] + g)
      return out
    })

const batchArb: fc.Arbitrary<BatchInput> = fc
  .array(recordArb, { minLength: 1, maxLength: 12 })
  .chain((records) =>
    fc.record({
      records: fc.constant(records),
      offsetDeltas: fc.option(deltasFor(records.length), { nil: undefined }),
      // up to the largest safe offset, leaving room for the deltas
      baseOffset: fc.oneof(
        fc.nat(1000),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 12 * 5000 - 1000 }),
        fc.integer({ min: 2 ** 53 - 2 ** 20, max: Number.MAX_SAFE_INTEGER - 12 * 5000 - 1000 }),
      ),
      attributes: fc.constantFrom(0, ATTR_TRANSACTIONAL),
      producerId: fc.oneof(fc.constant(-1), fc.nat(10), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
      producerEpoch: fc.integer({ min: -1, max: 32767 }),
      baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
      deleteHorizon: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 2 ** 50 })),
    }),
  )

function expectedRecords(input: BatchInput): LogRecord[] {
  return input.records.map((r, i) => ({
    offset: input.baseOffset + (input.offsetDeltas ? input.offsetDeltas[i] : i),
    timestamp: r.timestamp,
    key: r.key ?? null,
    value: r.value,
    headers: r.headers ?? [],
  }))
}

function decodeAll(buf: Buffer, pos = 0, minOffset = 0): LogRecord[] {
  const out: LogRecord[] = []
  decodeRecords(buf, pos, minOffset, out)
  return out
}

describe('record batch round trip', () => {
  test('readHeader returns what encodeBatch was given', () => {
    fc.assert(
      fc.property(batchArb, (input) => {
        const buf = encodeBatch(input)
        const h = readHeader(buf, 0)
        const deltas = input.offsetDeltas
        assert.deepEqual(h, {
          baseOffset: input.baseOffset,
          sizeInBytes: buf.length,
          crc: crc32c(buf.subarray(16), crc32c(buf.subarray(0, 12))),
          attributes: input.attributes ?? 0,
          lastOffsetDelta: deltas ? deltas[deltas.length - 1] : input.records.length - 1,
          baseTimestamp: input.records[0].timestamp,
          maxTimestamp: Math.max(...input.records.map((r) => r.timestamp)),
          producerId: input.producerId ?? -1,
          producerEpoch: input.producerEpoch ?? -1,
          baseSequence: input.baseSequence ?? -1,
          deleteHorizon: input.deleteHorizon ?? -1,
          recordCount: input.records.length,
        })
        assert.equal(peekBatchSize(buf, 0), buf.length)
        assert.equal(lastOffsetOf(h), input.baseOffset + h.lastOffsetDelta)
        assert.equal(isTransactional(h), input.attributes === ATTR_TRANSACTIONAL)
        assert.equal(isControl(h), false)
      }),
      RUNS,
    )
  })

  test('checkBatch accepts it and decodeRecords returns every record unchanged', () => {
    fc.assert(
      fc.property(batchArb, (input) => {
        const buf = encodeBatch(input)
        assert.equal(checkBatch(buf, 0), 'ok')
        // null and empty keys and values stay distinct; header order and repeats are kept
        assert.deepEqual(plainAll(decodeAll(buf)), plainAll(expectedRecords(input)))
      }),
      RUNS,
    )
  })

  test('batches packed one after another are each found, checked and decoded at their position', () => {
    fc.assert(
      fc.property(fc.array(batchArb, { minLength: 1, maxLength: 4 }), fc.nat(3), (inputs, junk) => {
        const bufs = inputs.map(encodeBatch)
        // trailing bytes after the last batch do not disturb it
        const all = Buffer.concat([...bufs, Buffer.alloc(junk, 0xab)])
        let pos = 0
        for (let i = 0; i < inputs.length; i++) {
          assert.equal(peekBatchSize(all, pos), bufs[i].length)
          assert.equal(checkBatch(all, pos), 'ok')
          assert.equal(readHeader(all, pos).baseOffset, inputs[i].baseOffset)
          assert.deepEqual(plainAll(decodeAll(all, pos)), plainAll(expectedRecords(inputs[i])))
          pos += bufs[i].length
        }
      }),
      { numRuns: 100 },
    )
  })

  test('decodeRecords keeps only records at or after minOffset, appending to what is there', () => {
    fc.assert(
      fc.property(batchArb, fc.integer({ min: -2, max: 70_000 }), (input, shift) => {
        const buf = encodeBatch(input)
        const expected = expectedRecords(input)
        const minOffset = Math.max(0, input.baseOffset + shift)
        const out: LogRecord[] = [expected[0]]
        decodeRecords(buf, 0, minOffset, out)
        assert.deepEqual(
          plainAll(out),
          plainAll([expected[0], ...expected.filter((r) => r.offset >= minOffset)]),
        )
      }),
      RUNS,
    )
  })

  test('setBaseOffset moves every offset without breaking the CRC', () => {
    fc.assert(
      fc.property(batchArb, fc.nat(2 ** 40), (input, newBase) => {
        const buf = encodeBatch(input)
        setBaseOffset(buf, newBase)
        assert.equal(checkBatch(buf, 0), 'ok')
        assert.deepEqual(
          plainAll(decodeAll(buf)),
          plainAll(expectedRecords({ ...input, baseOffset: newBase })),
        )
      }),
      { numRuns: 100 },
    )
  })

  test('edge sizes: empty batch refused, varint length boundaries and a large value', () => {
    assert.throws(() => encodeBatch({ baseOffset: 0, records: [] }), RangeError)
    const records = [0, 1, 63, 64, 127, 128, 8191, 8192, 16383, 16384, 70_000].map((n, i) => ({
      key: Buffer.alloc(n % 300, i),
      value: Buffer.alloc(n, 255 - i),
      headers: [['h', Buffer.alloc(n % 1000, 7)]] as Header[],
      timestamp: 1_700_000_000_000 + (i % 2 === 0 ? -n : n),
    }))
    const buf = encodeBatch({ baseOffset: 5, records })
    assert.equal(checkBatch(buf, 0), 'ok')
    assert.deepEqual(plainAll(decodeAll(buf)), plainAll(expectedRecords({ baseOffset: 5, records })))
  })
})

describe('record batch damage', () => {
  test('any single flipped byte from the crc field on makes checkBatch report corrupt', () => {
    fc.assert(
      fc.property(batchArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (input, at, mask) => {
        const buf = encodeBatch(input)
        const pos = 12 + (at % (buf.length - 12))
        buf[pos] ^= mask
        assert.equal(checkBatch(buf, 0), 'corrupt', `byte ${pos} of ${buf.length} xor ${mask}`)
      }),
      { numRuns: 500 },
    )
  })

  test('a damaged base offset or length field is never accepted: unlike Kafka, the CRC covers them', () => {
    fc.assert(
      fc.property(
        batchArb,
        fc.integer({ min: 0, max: 11 }),
        fc.integer({ min: 1, max: 255 }),
        (input, pos, mask) => {
          const buf = encodeBatch(input)
          buf[pos] ^= mask
          assert.notEqual(checkBatch(buf, 0), 'ok', `header byte ${pos} xor ${mask}`)
        },
      ),
      RUNS,
    )
  })

  test('a batch cut short anywhere is reported truncated', () => {
    fc.assert(
      fc.property(batchArb, fc.nat(), (input, at) => {
        const buf = encodeBatch(input)
        const len = at % buf.length
        assert.equal(checkBatch(buf.subarray(0, len), 0), 'truncated', `${len} of ${buf.length} bytes`)
        // and at a position inside a larger buffer
        const framed = Buffer.concat([Buffer.alloc(3), buf.subarray(0, len)])
        assert.equal(checkBatch(framed, 3), 'truncated')
        if (len < LOG_OVERHEAD) assert.equal(peekBatchSize(buf.subarray(0, len), 0), -1)
      }),
      RUNS,
    )
  })

  test('a length below the header size is corrupt, not truncated', () => {
    const buf = encodeBatch({ baseOffset: 0, records: [{ value: Buffer.from('x'), timestamp: 1 }] })
    buf.writeInt32BE(BATCH_HEADER_SIZE - LOG_OVERHEAD - 1, 8)
    assert.equal(checkBatch(buf, 0), 'corrupt')
  })
})

describe('control batches', () => {
  test('carry their marker type, producer and the control and transactional flags', () => {
    fc.assert(
      fc.property(
        fc.nat(2 ** 50),
        fc.constantFrom(CONTROL_ABORT, CONTROL_COMMIT),
        fc.nat(2 ** 50),
        fc.nat(32767),
        fc.nat(2 ** 45),
        (offset, type, producerId, epoch, ts) => {
          const buf = encodeControlBatch(offset, type, producerId, epoch, ts)
          assert.equal(checkBatch(buf, 0), 'ok')
          const h = readHeader(buf, 0)
          assert.equal(h.attributes, ATTR_TRANSACTIONAL | ATTR_CONTROL)
          assert.ok(isControl(h) && isTransactional(h))
          assert.deepEqual(
            [h.baseOffset, h.lastOffsetDelta, h.producerId, h.producerEpoch, h.maxTimestamp],
            [offset, 0, producerId, epoch, ts],
          )
          assert.equal(controlType(buf, 0), type)
        },
      ),
      { numRuns: 100 },
    )
  })
})

describe('int64 helpers', () => {
  test('writeInt64/readInt64 round trip every safe integer, in two-complement big endian', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
          fc.integer({ min: -(2 ** 33), max: 2 ** 33 }),
          fc.constantFrom(0, -1, 1, 2 ** 32, -(2 ** 32), 2 ** 32 - 1, -(2 ** 31), Number.MAX_SAFE_INTEGER),
        ),
        fc.nat(5),
        (n, pos) => {
          const buf = Buffer.alloc(pos + 8, 0x5a)
          writeInt64(buf, pos, n)
          assert.equal(readInt64(buf, pos), n)
          assert.equal(buf.readBigInt64BE(pos), BigInt(n))
          assert.ok(
            buf.subarray(0, pos).every((b) => b === 0x5a),
            'bytes before the field untouched',
          )
        },
      ),
      { numRuns: 1000 },
    )
  })
})
