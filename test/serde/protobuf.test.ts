// The Protobuf serde: several message types in one file (message indexes), and old records read by a newer reader.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isSluiceError } from '../../src/errors/index.ts'
import { protobufSerde } from '../../src/serde/protobuf.ts'
import { readHeader } from '../../src/serde/wire-format.ts'

const v1 = `
syntax = "proto3";
package shop;
message Ping { int32 n = 1; }
message Order {
  string id = 1;
  int64 amount = 2;
  message Line { string sku = 1; int32 qty = 2; }
  repeated Line lines = 3;
}
`
// v2 adds a field; v1 readers skip it, v2 readers of v1 records see its default.
const v2 = v1.replace('repeated Line lines = 3;', 'repeated Line lines = 3;\n  string note = 4;')

const line = fc.record({ sku: fc.string(), qty: fc.integer() })
const order = fc.record({
  id: fc.string(),
  amount: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  lines: fc.array(line, { maxLength: 4 }),
})

function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v))
}

describe('protobuf serde', () => {
  it('round-trips a message that is not the first of its file', () => {
    const serde = protobufSerde({ schema: v1, id: 4, messageName: 'shop.Order' })
    fc.assert(
      fc.property(order, (value) => {
        assert.deepEqual(plain(serde.deserialize(serde.serialize(value))), plain(value))
      }),
    )
  })

  it('writes the message indexes: [1] for the second message, [0] as one byte, [1, 0] for a nested one', () => {
    const order = protobufSerde({ schema: v1, id: 4, messageName: 'shop.Order' }).serialize({
      id: 'a',
    }) as Buffer
    assert.deepEqual([...order.subarray(5, 7)], [2, 2])
    const ping = protobufSerde({ schema: v1, id: 4 }).serialize({ n: 1 }) as Buffer
    assert.deepEqual([...ping.subarray(5, 6)], [0])
    const lineSerde = protobufSerde({ schema: v1, id: 4, messageName: 'shop.Order.Line' })
    const lineBytes = lineSerde.serialize({ sku: 'x', qty: 2 }) as Buffer
    assert.equal(readHeader(lineBytes).schemaId, 4)
    assert.deepEqual([...lineBytes.subarray(5, 8)], [4, 2, 0])
    assert.deepEqual(lineSerde.deserialize(lineBytes), { sku: 'x', qty: 2 })
  })

  it('reads records of an older schema with a newer reader, and newer records with an older one', () => {
    const oldSerde = protobufSerde({ schema: v1, id: 1, messageName: 'shop.Order', writerSchema: () => v2 })
    const newSerde = protobufSerde({ schema: v2, id: 2, messageName: 'shop.Order', writerSchema: () => v1 })
    const fromOld = newSerde.deserialize(oldSerde.serialize({ id: 'o', amount: '3' })) as Record<
      string,
      unknown
    >
    assert.equal(fromOld.note, '')
    assert.equal(fromOld.amount, '3')
    const fromNew = oldSerde.deserialize(newSerde.serialize({ id: 'o', note: 'hi' })) as Record<
      string,
      unknown
    >
    assert.equal(fromNew.id, 'o')
    assert.equal(fromNew.note, undefined)
  })

  it('gives 64-bit integers as numbers when asked', () => {
    const serde = protobufSerde({ schema: v1, id: 4, messageName: 'shop.Order', longs: 'number' })
    assert.equal(
      (serde.deserialize(serde.serialize({ id: 'a', amount: 42 })) as { amount: unknown }).amount,
      42,
    )
  })

  it('refuses values that do not fit, and bytes that are not a record, with SLUICE_ERR_SERDE', () => {
    const serde = protobufSerde({ schema: v1, id: 1, messageName: 'shop.Order' })
    assert.throws(
      () => serde.serialize({ lines: 5 }),
      (e) => isSluiceError(e, 'SLUICE_ERR_SERDE'),
    )
    assert.throws(
      () => serde.deserialize(Buffer.from([0, 0, 0, 0, 1, 2, 8])),
      (e) => isSluiceError(e, 'SLUICE_ERR_SERDE'),
    )
    assert.throws(
      () => serde.deserialize(Buffer.from([0, 0, 0, 0, 7, 0])),
      (e) => isSluiceError(e, 'SLUICE_ERR_SERDE'),
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (tail) => {
        try {
          serde.deserialize(Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), tail]))
        } catch (e) {
          assert.ok(isSluiceError(e, 'SLUICE_ERR_SERDE'), String(e))
        }
      }),
    )
  })

  it('answers mutated records with a value or SLUICE_ERR_SERDE, nothing else', () => {
    const serde = protobufSerde({ schema: v1, id: 1, messageName: 'shop.Order' })
    fc.assert(
      fc.property(
        order,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (value, edits) => {
          const bytes = Buffer.from(serde.serialize(value) as Buffer)
          for (const [at, byte] of edits) bytes[at % bytes.length] = byte
          try {
            serde.deserialize(bytes)
          } catch (e) {
            assert.ok(isSluiceError(e, 'SLUICE_ERR_SERDE'), String(e))
          }
        },
      ),
    )
  })
})
