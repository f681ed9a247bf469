// The Confluent wire format: header and Protobuf message indexes round-trip, and garbage is refused cleanly.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isSluiceError } from '../../src/errors/index.ts'
import {
  decodeMessageIndexes,
  encodeMessageIndexes,
  readHeader,
  writeHeader,
} from '../../src/serde/wire-format.ts'

describe('Confluent wire format', () => {
  it('writes magic byte 0 and the id big-endian', () => {
    assert.deepEqual([...writeHeader(258, Buffer.from([7]))], [0, 0, 0, 1, 2, 7])
  })

  it('round-trips schema id, message indexes and payload', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.array(fc.nat({ max: 100_000 }), { minLength: 1, maxLength: 6 }),
        fc.uint8Array({ maxLength: 64 }),
        (id, indexes, payload) => {
          const bytes = writeHeader(id, Buffer.from(payload), indexes)
          const header = readHeader(bytes)
          assert.equal(header.schemaId, id)
          const decoded = decodeMessageIndexes(bytes, header.offset)
          assert.deepEqual(decoded.indexes, indexes)
          assert.deepEqual([...bytes.subarray(decoded.offset)], [...payload])
        },
      ),
    )
  })

  it('writes [0] as the single byte 0 and reads a count of 0 as [0]', () => {
    assert.deepEqual([...encodeMessageIndexes([0])], [0])
    // [1, 2] = count 2, then 1 and 2, all zigzag: 4, 2, 4
    assert.deepEqual([...encodeMessageIndexes([1, 2])], [4, 2, 4])
    assert.deepEqual(decodeMessageIndexes(Buffer.from([0, 9]), 0), { indexes: [0], offset: 1 })
  })

  it('refuses short input, another magic byte and bad indexes with SLUICE_ERR_SERDE', () => {
    for (const bad of [Buffer.alloc(0), Buffer.from([0, 0, 0, 1]), Buffer.from([1, 0, 0, 0, 1])]) {
      assert.throws(
        () => readHeader(bad),
        (e) => isSluiceError(e, 'SLUICE_ERR_SERDE'),
      )
    }
    for (const bad of [Buffer.from([0x80]), Buffer.from([0x7e]), Buffer.from([3, 2])]) {
      assert.throws(
        () => decodeMessageIndexes(bad, 0),
        (e) => isSluiceError(e, 'SLUICE_ERR_SERDE'),
      )
    }
  })
})
