// Fuzzing the schema serdes inside a pipeline: for Avro, Protobuf and JSON Schema sources fed good records, random
// bytes and good records with bytes flipped, cut or inserted, every record either comes out processed or lands in the
// dead-letter topic with its exact bytes and a SLUICE_ERR_SERDE reason; the pipeline never stops or hangs. The
// reference for "good" is the serde itself on the bytes alone, so the property is that nothing is lost or changed.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { pipeline, type Serde } from '../../src/index.ts'
import { avro } from '../../src/serde/avro.ts'
import { jsonSchema } from '../../src/serde/json-schema.ts'
import { protobufSerde } from '../../src/serde/protobuf.ts'
import { TestDriver } from '../../src/testing/index.ts'

interface Bid {
  auction: number
  bidder: number
  price: number
  channel: string
}

const avroBid = JSON.stringify({
  type: 'record',
  name: 'Bid',
  fields: [
    { name: 'auction', type: 'long' },
    { name: 'bidder', type: 'long' },
    { name: 'price', type: 'long' },
    { name: 'channel', type: 'string' },
  ],
})
const protoBid = `
syntax = "proto3";
message Ping { int32 n = 1; }
message Bid { int64 auction = 1; int64 bidder = 2; int64 price = 3; string channel = 4; }
`
const jsonBid = JSON.stringify({
  type: 'object',
  properties: {
    auction: { type: 'integer' },
    bidder: { type: 'integer' },
    price: { type: 'integer' },
    channel: { type: 'string' },
  },
  required: ['auction', 'bidder', 'price', 'channel'],
})

const serdes: [string, () => Serde<Bid>][] = [
  ['avro', () => avro<Bid>({ schema: avroBid, id: 1 })],
  ['protobuf', () => protobufSerde<Bid>({ schema: protoBid, id: 2, messageName: 'Bid', longs: 'number' })],
  ['json-schema', () => jsonSchema<Bid>({ schema: jsonBid, id: 3 })],
]

const bid = fc.record({
  auction: fc.nat(1_000_000),
  bidder: fc.nat(1_000_000),
  price: fc.nat(10_000_000),
  channel: fc.string({ maxLength: 12 }),
})

/** Good records, random bytes, and good records mutated: bytes flipped, cut short, or inserted. */
function inputs(serde: Serde<Bid>) {
  const good = bid.map((b) => serde.serialize(b)!)
  const mutated = fc
    .tuple(good, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.constantFrom('flip', 'cut', 'insert'))
    .map(([bytes, at, x, how]) => {
      const i = at % bytes.length
      if (how === 'cut') return bytes.subarray(0, i)
      if (how === 'insert') return Buffer.concat([bytes.subarray(0, i), Buffer.from([x]), bytes.subarray(i)])
      const copy = Buffer.from(bytes)
      copy[i] ^= x
      return copy
    })
  const random = fc.uint8Array({ maxLength: 48 }).map((a) => Buffer.from(a))
  return fc.array(fc.oneof(good, mutated, random), { minLength: 1, maxLength: 40 })
}

describe('schema serdes in a pipeline, fuzzed', () => {
  for (const [name, make] of serdes) {
    it(`${name}: every record is processed or dead-lettered with its bytes and a reason`, async () => {
      const serde = make()
      await fc.assert(
        fc.asyncProperty(inputs(serde), fc.integer({ min: 1, max: 16 }), async (values, batchSize) => {
          const p = pipeline(`fuzz-${name}`)
          p.source<string | null, Bid>('bids', { topic: 'bids', value: serde })
            .map((b) => b.price, { name: 'price' })
            .to('prices')
          const d = new TestDriver(p, { batchSize })
          try {
            d.pipeRawInput(
              'bids',
              values.map((value) => ({ value })),
            )
            const readable = values.map((v) => {
              try {
                return { ok: true as const, value: serde.deserialize(v) }
              } catch {
                return { ok: false as const }
              }
            })
            const prices = d.readOutput<unknown, number>('prices').map((r) => r.value)
            assert.deepEqual(
              prices,
              // a record of another message type of the file has no price: JSON has no undefined, the sink writes null
              readable.flatMap((r) => (r.ok ? [r.value.price ?? null] : [])),
            )
            const dead = d.deadLetters()
            assert.deepEqual(
              dead.map((x) => x.offset),
              readable.flatMap((r, i) => (r.ok ? [] : [i])),
            )
            for (const x of dead) {
              assert.deepEqual(x.value, values[x.offset!])
              assert.equal(x.code, 'SLUICE_ERR_SERDE')
              assert.equal(x.kind, 'deserialization')
              assert.ok(x.message.length > 0)
            }
          } finally {
            await d.close()
          }
        }),
        { numRuns: 40 },
      )
    })
  }
})
