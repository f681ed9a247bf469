// The Avro serde: round trips, and writer-to-reader resolution so that a newer reader reads older records.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isSluiceError } from '../../src/errors/index.ts'
import { avro } from '../../src/serde/avro.ts'

const v1 = {
  type: 'record',
  name: 'Bid',
  namespace: 'nexmark',
  fields: [
    { name: 'auction', type: 'int' },
    { name: 'bidder', type: 'string' },
    { name: 'price', type: 'float' },
    { name: 'channel', type: ['null', 'string'], default: null },
  ],
}
// v2: auction promoted int→long, price float→double, a field added with a default, channel dropped.
const v2 = {
  type: 'record',
  name: 'Bid',
  namespace: 'nexmark',
  fields: [
    { name: 'auction', type: 'long' },
    { name: 'bidder', type: 'string' },
    { name: 'price', type: 'double' },
    { name: 'currency', type: 'string', default: 'EUR' },
  ],
}

const bid = fc.record({
  auction: fc.integer(),
  bidder: fc.string(),
  price: fc.float({ noNaN: true }).map((x) => (x === 0 ? 0 : x)),
  channel: fc.option(fc.string(), { nil: null }),
})

describe('avro serde', () => {
  it('round-trips records of its own schema', () => {
    const serde = avro<Record<string, unknown>>({ schema: v1, id: 1 })
    fc.assert(
      fc.property(bid, (value) => {
        assert.deepEqual({ ...serde.deserialize(serde.serialize(value)) }, { ...value })
      }),
    )
  })

  it('reads records written with an older schema through the registry lookup', () => {
    const writer = avro({ schema: v1, id: 1 })
    const reader = avro<Record<string, unknown>>({
      schema: v2,
      id: 2,
      writerSchema: (id) => (id === 1 ? JSON.stringify(v1) : undefined),
    })
    fc.assert(
      fc.property(bid, (value) => {
        const read = reader.deserialize(writer.serialize(value))
        assert.deepEqual(
          { ...read },
          {
            auction: value.auction,
            bidder: value.bidder,
            price: value.price,
            currency: 'EUR',
          },
        )
      }),
    )
  })

  it('fails with SLUICE_ERR_SERDE on an unknown writer id, on garbage, and on trailing bytes', () => {
    const serde = avro({ schema: v1, id: 1 })
    const good = serde.serialize({ auction: 1, bidder: 'a', price: 1, channel: null }) as Buffer
    const bad = [
      Buffer.from([0, 0, 0, 0, 9, 2]),
      Buffer.from('{"auction":1}'),
      Buffer.concat([good, Buffer.from([1])]),
      good.subarray(0, good.length - 1),
    ]
    for (const b of bad)
      assert.throws(
        () => serde.deserialize(b),
        (e) => isSluiceError(e, 'SLUICE_ERR_SERDE'),
      )
  })

  it('never throws anything but SLUICE_ERR_SERDE on random bytes after a valid header', () => {
    const serde = avro({ schema: v1, id: 1 })
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

  it('refuses values that do not fit the schema with SLUICE_ERR_SERDE, and writes records larger than its buffer', () => {
    const serde = avro<Record<string, unknown>>({ schema: v1, id: 1 })
    for (const bad of [
      { auction: 'x', bidder: 'a', price: 1, channel: null },
      { auction: 1.5, bidder: 'a', price: 1 },
    ]) {
      assert.throws(
        () => serde.serialize(bad),
        (e) => isSluiceError(e, 'SLUICE_ERR_SERDE'),
      )
    }
    const big = { auction: 1, bidder: 'b'.repeat(100_000), price: 2, channel: 'web' }
    assert.deepEqual({ ...serde.deserialize(serde.serialize(big)) }, big)
  })

  it('keeps null as a tombstone', () => {
    const serde = avro({ schema: v1, id: 1 })
    assert.equal(serde.serialize(null), null)
    assert.equal(serde.deserialize(null), null)
  })

  const nested = {
    type: 'record',
    name: 'Order',
    fields: [
      {
        name: 'lines',
        type: {
          type: 'array',
          items: { type: 'record', name: 'Line', fields: [{ name: 'q', type: 'int' }] },
        },
      },
      { name: 'tags', type: { type: 'map', values: ['null', 'string'] } },
      { name: 'marks', type: { type: 'array', items: 'null' } },
    ],
  }
  const order = fc.record({
    lines: fc.array(fc.record({ q: fc.integer() }), { maxLength: 5 }),
    // avsc decodes maps into plain objects, where a "__proto__" key is lost (see docs/schemas.md).
    tags: fc.dictionary(
      fc.string().filter((k) => k !== '__proto__'),
      fc.option(fc.string(), { nil: null }),
      { maxKeys: 4 },
    ),
    marks: fc.array(fc.constant(null), { maxLength: 5 }),
  })

  it('refuses, without running out of memory, block counts the bytes cannot hold', () => {
    const serde = avro({ schema: nested, id: 1 })
    const header = [0, 0, 0, 0, 1]
    const huge = [0xfe, 0xff, 0xff, 0xff, 0x0f] // 2^31 - 1 as a zigzag varint
    for (const body of [
      huge,
      [0, 0, ...huge],
      [0, huge[0] - 1, ...huge.slice(1)],
      [0, 0, 0x81, 0x80, 0x80, 0x80, 0x10],
    ]) {
      assert.throws(
        () => serde.deserialize(Buffer.from([...header, ...body])),
        (e) => isSluiceError(e, 'SLUICE_ERR_SERDE'),
      )
    }
  })

  it('round-trips arrays and maps through the bounds check, and refuses their mutations cleanly', () => {
    const serde = avro<Record<string, unknown>>({ schema: nested, id: 1 })
    fc.assert(
      fc.property(order, fc.nat(), fc.integer({ min: 0, max: 255 }), (value, at, byte) => {
        const bytes = serde.serialize(value) as Buffer
        const back = serde.deserialize(bytes)
        assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(value)))
        const mutated = Buffer.from(bytes)
        mutated[5 + (at % (mutated.length - 5))] = byte
        try {
          serde.deserialize(mutated)
        } catch (e) {
          assert.ok(isSluiceError(e, 'SLUICE_ERR_SERDE'), String(e))
        }
      }),
    )
  })
})
