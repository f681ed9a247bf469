// Sluice's Kafka layer alone, as kcat is run beside it by bench/kafka-streams.ts: `produce` sends the lines of a
// file (key TAB value, the file kcat -P reads) in batches through openKafkaLog's producer (idempotent, acks=all,
// each batch awaited); `consume` reads a topic from the beginning to its end with poll(). Prints one JSON line:
// { ms, records, bytes }, the time from opening the log to the last ack or the last record.
// Usage: node bench/kafka-streams/raw-sluice.ts produce|consume --brokers H:P --topic T [--file F] [--batch N]
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { openKafkaLog } from '../../src/kafka/index.ts'
import type { ProducerRecord } from '../../src/log/contract.ts'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    brokers: { type: 'string' },
    topic: { type: 'string' },
    file: { type: 'string' },
    batch: { type: 'string', default: '1000' },
  },
})
const topic = String(values.topic)
const t0 = performance.now()
const log = await openKafkaLog({ brokers: String(values.brokers).split(','), clientId: 'bench-raw' })
let records = 0
let bytes = 0
if (positionals[0] === 'produce') {
  const data = readFileSync(String(values.file))
  const batchSize = Number(values.batch)
  const producer = log.producer()
  let batch: ProducerRecord[] = []
  let at = 0
  while (at < data.length) {
    const tab = data.indexOf(9, at)
    const nl = data.indexOf(10, tab)
    const end = nl < 0 ? data.length : nl
    batch.push({ topic, key: data.subarray(at, tab), value: data.subarray(tab + 1, end) })
    bytes += end - at - 1
    at = end + 1
    if (batch.length === batchSize) {
      await producer.send(batch)
      records += batch.length
      batch = []
    }
  }
  if (batch.length > 0) await producer.send(batch)
  records += batch.length
  await producer.close()
} else if (positionals[0] === 'consume') {
  const admin = log.admin()
  const { partitions } = await admin.describeTopic(topic)
  const tps = partitions.map(({ partition }) => ({ topic, partition }))
  const ends = await Promise.all(tps.map((tp) => admin.listOffsets(topic, tp.partition, 'latest')))
  const consumer = log.consumer()
  await consumer.assign(tps)
  for (const tp of tps) await consumer.seek(tp, 'earliest')
  const behind = () => tps.some((tp, i) => (consumer.position(tp) ?? 0) < ends[i])
  while (behind()) {
    for (const r of await consumer.poll({ timeoutMs: 1000 })) {
      records++
      bytes += (r.key?.length ?? 0) + (r.value?.length ?? 0)
    }
  }
  await consumer.close()
} else {
  throw new Error(`usage: raw-sluice.ts produce|consume ...; got ${positionals[0]}`)
}
const ms = performance.now() - t0
await log.close()
process.stdout.write(`${JSON.stringify({ ms, records, bytes })}\n`)
process.exit(0)
