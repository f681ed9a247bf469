// Serialize and deserialize throughput of the schema serdes (Avro, Protobuf, JSON Schema, in the Confluent wire
// format) and plain JSON on the Nexmark bid record, on one core. Run with `node bench/serde.ts [--seconds S]
// [--reps N]`: every repetition measures every serde once, so a noisy minute on a shared machine touches one sample
// of each; the table gives medians, and each serde's deserialize rate over JSON.parse's in the same repetition.
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { avro } from '../src/serde/avro.ts'
import { json } from '../src/serde/builtin.ts'
import { jsonSchema } from '../src/serde/json-schema.ts'
import { protobufSerde } from '../src/serde/protobuf.ts'
import type { Serde } from '../src/serde/serde.ts'
import { nexmarkRecords } from './nexmark/generator.ts'
import type { Bid } from './nexmark/model.ts'

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '1' }, reps: { type: 'string', default: '5' } },
})
const seconds = Number(values.seconds)
const reps = Number(values.reps)

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

/**
 * Records per second of `fn` over the bids, for about `seconds`: per second of wall-clock time, and per second of
 * the process's CPU time (garbage collection on helper threads included), which does not count the time other
 * processes had the core.
 */
function rate(fn: (i: number) => void): { wall: number; cpu: number } {
  for (let i = 0; i < 20_000; i++) fn(i % bids.length) // warm up
  let n = 0
  const cpu = process.cpuUsage()
  const start = performance.now()
  const until = start + seconds * 1000
  while (performance.now() < until) {
    for (let i = 0; i < 1000; i++) fn(n++ % bids.length)
  }
  const wall = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  return { wall: n / wall, cpu: n / ((used.user + used.system) / 1e6) }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const encoded = serdes.map(([, serde]) => bids.map((b) => serde.serialize(b) as Buffer))
const ser: number[][] = serdes.map(() => [])
const de: number[][] = serdes.map(() => [])
const deCpu: number[][] = serdes.map(() => [])
let sink = 0
const load = [loadavg()[0]]
for (let r = 0; r < reps; r++) {
  // alternate the order, so that no serde always runs right after the same one
  const order = serdes.map((_, i) => i)
  if (r % 2 === 1) order.reverse()
  for (const i of order) {
    const serde = serdes[i][1]
    const bytes = encoded[i]
    const s = rate((k) => {
      sink += (serde.serialize(bids[k]) as Buffer).length
    })
    const d = rate((k) => {
      sink += serde.deserialize(bytes[k]) === null ? 0 : 1
    })
    ser[i].push(s.wall)
    de[i].push(d.wall)
    deCpu[i].push(d.cpu)
  }
  load.push(loadavg()[0])
}
const peer = serdes.findIndex(([name]) => name.startsWith('json ('))
const fmt = (x: number) => Math.round(x).toLocaleString('en')
// the ratio of each repetition, then their median: both rates of a ratio saw the same minute of the machine
const ratio = (rates: number[][], i: number) =>
  `${median(rates[i].map((x, r) => x / rates[peer][r])).toFixed(2)}x`
console.log(
  `Nexmark bids, ${bids.length} distinct records, ${reps} repetitions of ${seconds} s per phase, node ` +
    `${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x ${cpus().length}, load average ` +
    `${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)}\n`,
)
console.log(
  '| serde | bytes/record | serialize records/s | deserialize records/s | / JSON.parse | ' +
    'deserialize records/CPU-s | / JSON.parse |',
)
console.log('|---|---|---|---|---|---|---|')
for (const [i, [name]] of serdes.entries()) {
  const bytes = encoded[i].reduce((s, b) => s + b.length, 0) / encoded[i].length
  console.log(
    `| ${name} | ${bytes.toFixed(1)} | ${fmt(median(ser[i]))} | ${fmt(median(de[i]))} | ${ratio(de, i)} | ` +
      `${fmt(median(deCpu[i]))} | ${ratio(deCpu, i)} |`,
  )
}
if (sink === -1) console.log(sink)
