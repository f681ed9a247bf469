// Serialize and deserialize throughput of the schema serdes (Avro, Protobuf, JSON Schema, in the Confluent wire
// format) and plain JSON on the Nexmark bid record, on one core. Run with `node bench/serde.ts [--seconds S]`.
import { parseArgs } from 'node:util'
import { avro } from '../src/serde/avro.ts'
import { json } from '../src/serde/builtin.ts'
import { jsonSchema } from '../src/serde/json-schema.ts'
import { protobufSerde } from '../src/serde/protobuf.ts'
import type { Serde } from '../src/serde/serde.ts'
import { nexmarkRecords } from './nexmark/generator.ts'
import type { Bid } from './nexmark/model.ts'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' } } })
const seconds = Number(values.seconds)

type PlainBid = Omit<Bid, 'kind'>
const bids: PlainBid[] = []
for (const rec of nexmarkRecords({ maxEvents: 200_000 })) {
  if (rec.value.kind === 'bid') {
    const { kind: _kind, ...bid } = rec.value
    bids.push(bid)
    if (bids.length === 10_000) break
  }
}

const avroSchema = {
  type: 'record',
  name: 'Bid',
  namespace: 'nexmark',
  fields: ['auction', 'bidder', 'price', 'dateTime']
    .map((name) => ({ name, type: 'long' }))
    .concat({
      name: 'extra',
      type: 'string',
    }),
}
const proto = `syntax = "proto3"; package nexmark;
message Bid { int64 auction = 1; int64 bidder = 2; int64 price = 3; int64 dateTime = 4; string extra = 5; }`
const bidJsonSchema = {
  type: 'object',
  properties: {
    auction: { type: 'integer' },
    bidder: { type: 'integer' },
    price: { type: 'integer' },
    dateTime: { type: 'integer' },
    extra: { type: 'string' },
  },
  required: ['auction', 'bidder', 'price', 'dateTime', 'extra'],
}

const serdes: [string, Serde<unknown>][] = [
  ['avro', avro({ schema: avroSchema, id: 1 })],
  ['protobuf (int64 as string)', protobufSerde({ schema: proto, id: 2 })],
  ['protobuf (int64 as number)', protobufSerde({ schema: proto, id: 2, longs: 'number' })],
  ['json-schema', jsonSchema({ schema: bidJsonSchema, id: 3 })],
  ['json (JSON.parse)', json()],
]

/** Records per second of `fn` over the bids, for about `seconds`. */
function rate(fn: (i: number) => void): number {
  for (let i = 0; i < 20_000; i++) fn(i % bids.length) // warm up
  let n = 0
  const start = performance.now()
  const until = start + seconds * 1000
  while (performance.now() < until) {
    for (let i = 0; i < 1000; i++) fn(n++ % bids.length)
  }
  return n / ((performance.now() - start) / 1000)
}

const rows: string[] = []
let sink = 0
for (const [name, serde] of serdes) {
  const encoded = bids.map((b) => serde.serialize(b) as Buffer)
  const ser = rate((i) => {
    sink += (serde.serialize(bids[i]) as Buffer).length
  })
  const de = rate((i) => {
    sink += serde.deserialize(encoded[i]) === null ? 0 : 1
  })
  const bytes = encoded.reduce((s, b) => s + b.length, 0) / encoded.length
  rows.push(
    `| ${name} | ${bytes.toFixed(1)} | ${Math.round(ser).toLocaleString('en')} | ${Math.round(de).toLocaleString('en')} |`,
  )
}
console.log(
  `Nexmark bids, ${bids.length} distinct records, ${seconds} s per phase, node ${process.version}\n`,
)
console.log('| serde | bytes/record | serialize records/s | deserialize records/s |')
console.log('|---|---|---|---|')
console.log(rows.join('\n'))
if (sink === -1) console.log(sink)
