// Raw produce and consume of bench/kafka-streams.ts: Sluice's Kafka layer (raw-sluice.ts, a child process) against
// kcat (librdkafka) on the same broker and the same records. kcat produces with idempotence on (as Sluice's producer
// is by default) and acks=all (librdkafka's default, and Sluice's only setting); both consume read_uncommitted.
import { resolve } from 'node:path'
import type { Log } from '../../src/log/contract.ts'
import { runToEnd } from './systems.ts'

const RAW_SLUICE = resolve(import.meta.dirname, 'raw-sluice.ts')

export type Client = 'sluice' | 'kcat'

export interface RawResult {
  /** Sluice: from opening the log to the last ack / record, measured inside; kcat: its process from spawn to exit. */
  ms: number
  /** Sluice: its process from spawn to exit, Node's start included. */
  processMs: number
  records: number
  bytes: number
  cpuMs: number
}

async function count(log: Log, topic: string): Promise<number> {
  const { partitions } = await log.admin().describeTopic(topic)
  let n = 0
  for (const { partition } of partitions) n += await log.admin().listOffsets(topic, partition, 'latest')
  return n
}

export async function rawProduce(
  log: Log,
  client: Client,
  o: {
    brokers: string[]
    topic: string
    partitions: number
    file: string
    batch: number
    records: number
    bytes: number
  },
): Promise<RawResult> {
  await log.admin().createTopic(o.topic, { partitions: o.partitions })
  let result: RawResult
  if (client === 'sluice') {
    const r = await runToEnd(process.execPath, [
      RAW_SLUICE,
      'produce',
      '--brokers',
      o.brokers.join(','),
      '--topic',
      o.topic,
      '--file',
      o.file,
      '--batch',
      String(o.batch),
    ])
    const m = JSON.parse(r.stdout) as { ms: number; records: number; bytes: number }
    result = { ms: m.ms, processMs: r.ms, records: m.records, bytes: m.bytes, cpuMs: r.cpuMs }
  } else {
    const r = await runToEnd('kcat', [
      '-P',
      '-b',
      o.brokers.join(','),
      '-t',
      o.topic,
      '-K',
      '\\t',
      '-l',
      o.file,
      '-X',
      'enable.idempotence=true',
    ])
    result = { ms: r.ms, processMs: r.ms, records: o.records, bytes: o.bytes, cpuMs: r.cpuMs }
  }
  const appended = await count(log, o.topic)
  await log.admin().deleteTopic(o.topic)
  if (appended !== o.records) throw new Error(`${client} produced ${appended} records of ${o.records}`)
  return result
}

export async function rawConsume(
  client: Client,
  o: { brokers: string[]; topic: string; records: number; bytes: number },
): Promise<RawResult> {
  if (client === 'sluice') {
    const r = await runToEnd(process.execPath, [
      RAW_SLUICE,
      'consume',
      '--brokers',
      o.brokers.join(','),
      '--topic',
      o.topic,
    ])
    const m = JSON.parse(r.stdout) as { ms: number; records: number; bytes: number }
    if (m.records !== o.records) throw new Error(`sluice consumed ${m.records} records of ${o.records}`)
    return { ms: m.ms, processMs: r.ms, records: m.records, bytes: m.bytes, cpuMs: r.cpuMs }
  }
  // -c: exit after that many records (and -e at the end of every partition); output to /dev/null
  const r = await runToEnd(
    'kcat',
    [
      '-C',
      '-b',
      o.brokers.join(','),
      '-t',
      o.topic,
      '-o',
      'beginning',
      '-e',
      '-q',
      '-c',
      String(o.records),
      '-f',
      '%k\\t%s\\n',
    ],
    { stdout: 'ignore' },
  )
  return { ms: r.ms, processMs: r.ms, records: o.records, bytes: o.bytes, cpuMs: r.cpuMs }
}
