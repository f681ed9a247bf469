// One benchmark case: append for a bounded time (or record count) into a fresh log, then read everything back
// (several passes, CRC-checked and decoded), either through the public API or at the PartitionLog level.
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts'
import type { PartitionLog } from '../../src/log/embedded/partition-log.ts'
import { type FsyncPolicy, openEmbeddedLog } from '../../src/log/index.ts'
import { Meter, type Phase } from './meter.ts'
import { removeScratch, scratchDir } from './scratch.ts'
import { partitionBatches, producerBatches, type Record } from './workload.ts'

export type Layer = 'api' | 'partition'
export type FsyncMode = FsyncPolicy['mode']

export interface CaseSpec {
  layer: Layer
  fsync: FsyncMode
  batch: number
}

export interface Limits {
  /** Wall-clock bound of the append phase and of the read phase. */
  seconds: number
  /** Record bound of the append phase. */
  maxRecords: number
  /** Record bound for fsync=always with batches of 1 (one fdatasync per record). */
  maxRecordsAlways1: number
  intervalMs: number
  /** segment.bytes of the benchmark topic; undefined keeps the log's default. */
  segmentBytes: number | undefined
  baseDir: string
}

export interface CaseResult {
  append: Phase
  read: Phase
}

const TOPIC = 'bench'
const MAX_READ_BYTES = 1 << 20
/** How often the timed loops give the event loop a turn (fsync timer, fdatasync callbacks). */
const YIELD_MS = 5

function policy(mode: FsyncMode, intervalMs: number): FsyncPolicy {
  return mode === 'interval' ? { mode, intervalMs } : { mode }
}

export async function runCase(spec: CaseSpec, pool: readonly Record[], limits: Limits): Promise<CaseResult> {
  const dir = scratchDir(limits.baseDir)
  try {
    const log = await openEmbeddedLog({
      dataDir: dir,
      fsync: policy(spec.fsync, limits.intervalMs),
      maintenanceIntervalMs: 0,
    })
    try {
      const config = limits.segmentBytes === undefined ? {} : { 'segment.bytes': limits.segmentBytes }
      await log.admin().createTopic(TOPIC, { partitions: 1, config })
      const part = log.partition(TOPIC, 0)
      const maxRecords =
        spec.fsync === 'always' && spec.batch === 1 ? limits.maxRecordsAlways1 : limits.maxRecords
      const deadline = performance.now() + limits.seconds * 1000
      let records = 0
      let lastYield = performance.now()
      const meter = new Meter()
      if (spec.layer === 'partition') {
        const batches = partitionBatches(pool, spec.batch, Date.now())
        const always = spec.fsync === 'always'
        for (let i = 0; records < maxRecords; i++) {
          part.append(batches[i % batches.length])
          if (always) await part.sync() // what EmbeddedLog.acknowledge does under fsync=always
          records += spec.batch
          const now = performance.now()
          if (now >= deadline) break
          if (now - lastYield >= YIELD_MS) {
            await nextTurn()
            lastYield = now
          }
        }
      } else {
        const producer = log.producer()
        const batches = producerBatches(pool, spec.batch, TOPIC, 0)
        for (let i = 0; records < maxRecords; i++) {
          await producer.send(batches[i % batches.length])
          records += spec.batch
          const now = performance.now()
          if (now >= deadline) break
          if (now - lastYield >= YIELD_MS) {
            await nextTurn()
            lastYield = now
          }
        }
        await producer.close()
      }
      const append = meter.phase(records, part.sizeBytes)
      const read =
        spec.layer === 'partition'
          ? readPartition(part, records, limits.seconds)
          : await readApi(log, records, limits.seconds)
      read.bytes = Math.round((read.records / records) * append.bytes)
      return { append, read }
    } finally {
      await log.close()
    }
  } finally {
    removeScratch(dir)
  }
}

/** Reads the partition from offset 0 to its end, again and again until the time bound (at least one pass). */
function readPartition(part: PartitionLog, total: number, seconds: number): Phase {
  const meter = new Meter()
  const deadline = performance.now() + seconds * 1000
  let records = 0
  do {
    let offset = 0
    while (offset < total) {
      const res = part.read(offset, MAX_READ_BYTES, 'read_uncommitted')
      const n = res.records.length
      if (n === 0 || res.records[0].offset !== offset) throw new Error(`read at ${offset} went wrong`)
      records += n
      offset = res.nextOffset
    }
  } while (performance.now() < deadline)
  return meter.phase(records, 0)
}

async function readApi(log: EmbeddedLog, total: number, seconds: number): Promise<Phase> {
  const consumer = log.consumer({ isolationLevel: 'read_uncommitted', maxBytesPerPartition: MAX_READ_BYTES })
  const tp = { topic: TOPIC, partition: 0 }
  await consumer.assign([tp])
  const meter = new Meter()
  const deadline = performance.now() + seconds * 1000
  let records = 0
  do {
    await consumer.seek(tp, 0)
    let offset = 0
    while (offset < total) {
      const batch = await consumer.poll()
      const n = batch.length
      if (n === 0 || batch[0].offset !== offset) throw new Error(`poll at ${offset} went wrong`)
      records += n
      offset += n
    }
  } while (performance.now() < deadline)
  const phase = meter.phase(records, 0)
  await consumer.close()
  return phase
}
