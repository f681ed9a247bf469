// One measured run of bench/kafka-streams.ts, the same for both systems: the input topic prepared with its reference
// counts; a throughput run (from the process's start until every input offset is committed and every closed window's
// count is readable under read_committed) and a latency run (a steady input rate; each window count's latency is the
// time from the moment its window could close, end + grace, to the count being readable under read_committed).
import { writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Log, LogConsumer, ProducerRecord } from '../../src/log/contract.ts'
import { partitionForKey } from '../../src/log/partitioner.ts'
import { Meter } from '../log/meter.ts'
import { click, encode, type PageCount, type WindowSpec, windowStart } from './pipeline.ts'
import { brokerPids, cpuMsOf, type Started } from './systems.ts'

const windowKey = (page: string, start: number) => `${page}|${start}`

export interface Reference {
  records: number
  /** Counts of the windows that close in both systems, by windowKey. */
  counts: Map<string, number>
  /** Sum of `counts`: the input records in those windows. */
  total: number
}

/** Windows that close once every input partition saw `closesAt`; 50 ms spare for ties between the systems. */
function reference(
  counts: Map<string, number>,
  maxTs: number[],
  spec: WindowSpec,
  records: number,
  from = Number.NEGATIVE_INFINITY,
): Reference {
  const closesAt = Math.min(...maxTs) - 50
  const closed = new Map<string, number>()
  let total = 0
  for (const [k, n] of counts) {
    const start = Number(k.slice(k.lastIndexOf('|') + 1))
    if (start >= from && start + spec.windowMs + spec.graceMs <= closesAt) {
      closed.set(k, n)
      total += n
    }
  }
  return { records, counts: closed, total }
}

/**
 * Appends `records` clicks at `eventRate` records per second of event time, ending a minute ago, to a new topic;
 * writes the same keys and values as `key TAB value` lines to `kcatFile` for the raw produce comparison.
 */
export async function prepareInput(
  log: Log,
  topic: string,
  o: { records: number; partitions: number; eventRate: number; kcatFile: string } & WindowSpec,
): Promise<Reference> {
  await log.admin().createTopic(topic, { partitions: o.partitions })
  const span = Math.ceil((o.records / o.eventRate) * 1000)
  const t0 = Math.floor((Date.now() - span - 60_000) / o.windowMs) * o.windowMs
  const producer = log.producer()
  const counts = new Map<string, number>()
  const maxTs = new Array<number>(o.partitions).fill(Number.NEGATIVE_INFINITY)
  const lines: string[] = []
  for (let from = 0; from < o.records; from += 10_000) {
    const batch: ProducerRecord[] = []
    for (let i = from; i < Math.min(o.records, from + 10_000); i++) {
      const t = t0 + Math.floor((i * 1000) / o.eventRate)
      const c = click(i, t)
      const { key, value } = encode(c)
      const partition = partitionForKey(key, o.partitions)
      maxTs[partition] = Math.max(maxTs[partition], t)
      const k = windowKey(c.page, windowStart(t, o.windowMs))
      counts.set(k, (counts.get(k) ?? 0) + 1)
      batch.push({ topic, partition, key, value, timestamp: t })
      lines.push(`${key}\t${value}\n`)
    }
    await producer.send(batch)
  }
  await producer.close()
  writeFileSync(o.kcatFile, lines.join(''))
  return reference(counts, maxTs, o, o.records)
}

export interface OutputTally {
  /** Sum of the counts read for reference windows. */
  total: number
  /** Windows read more than once. */
  duplicates: number
  got: Map<string, number>
}

async function outputReader(log: Log, topic: string): Promise<LogConsumer> {
  const { partitions } = await log.admin().describeTopic(topic)
  const c = log.consumer({ isolationLevel: 'read_committed' })
  await c.assign(partitions.map(({ partition }) => ({ topic, partition })))
  for (const { partition } of partitions) await c.seek({ topic, partition }, 'earliest')
  return c
}

function tally(t: OutputTally, ref: Reference, value: Buffer): PageCount {
  const v = JSON.parse(value.toString()) as PageCount
  const k = windowKey(v.page, v.start)
  if (t.got.has(k)) t.duplicates++
  t.got.set(k, (t.got.get(k) ?? 0) + v.count)
  if (ref.counts.has(k)) t.total += v.count
  return v
}

/** Windows whose count differs from the reference, counting missing ones. */
function wrong(t: OutputTally, ref: Reference): number {
  let n = 0
  for (const [k, want] of ref.counts) if (t.got.get(k) !== want) n++
  return n
}

/** What is wrong with the output, for an error message. */
function describeWrong(t: OutputTally, ref: Reference): string {
  let missing = 0
  let low = 0
  let high = 0
  const starts: number[] = []
  for (const [k, want] of ref.counts) {
    const got = t.got.get(k)
    if (got === want) continue
    if (got === undefined) missing++
    else if (got < want) low++
    else high++
    starts.push(Number(k.slice(k.lastIndexOf('|') + 1)))
  }
  const span = starts.length === 0 ? '' : `, windows from ${Math.min(...starts)} to ${Math.max(...starts)}`
  return `${t.got.size} windows read; of ${ref.counts.size} expected ${missing} missing, ${low} too low, ${high} too high${span}`
}

/** Sum of the committed offsets of `groupId` on `topic`, or -1 before the first commit. */
async function committed(log: Log, groupId: string, topic: string): Promise<number> {
  const group = await log
    .admin()
    .describeGroup(groupId)
    .catch(() => undefined)
  const offsets = (group?.offsets ?? []).filter((o) => o.topic === topic)
  return offsets.length === 0 ? -1 : offsets.reduce((n, o) => n + o.offset, 0)
}

async function endOffsets(log: Log, topic: string): Promise<number> {
  const { partitions } = await log.admin().describeTopic(topic)
  let n = 0
  for (const { partition } of partitions) n += await log.admin().listOffsets(topic, partition, 'latest')
  return n
}

const brokerCpuMs = () => brokerPids().reduce((n, pid) => n + cpuMsOf(pid), 0)

export interface ThroughputResult {
  /** From spawn until input committed and output complete. */
  ms: number
  /** From the first commit seen (processing under way) until the end. */
  msFromFirstCommit: number
  /** Spawn to the `running` line. */
  startupMs: number
  cpuMs: number
  brokerCpuMs: number
  /** Cores the rest of the machine kept busy: neither this process, the system nor the broker. */
  others: number
  wrongWindows: number
  duplicates: number
}

export async function throughputRun(
  log: Log,
  start: () => Started,
  o: {
    applicationId: string
    input: string
    output: string
    ref: Reference
    timeoutMs: number
    progress?: (msg: string) => void
  },
): Promise<ThroughputResult> {
  const inputEnd = await endOffsets(log, o.input)
  const reader = await outputReader(log, o.output)
  const broker0 = brokerCpuMs()
  const meter = new Meter()
  const system = start()
  let runningAt = Number.NaN
  system.running.then(
    () => {
      runningAt = Date.now()
    },
    () => {},
  )
  const t: OutputTally = { total: 0, duplicates: 0, got: new Map() }
  let outputAt: number | undefined
  let committedAt: number | undefined
  let firstCommitAt: number | undefined
  let failed: Error | undefined
  system.child.once('exit', () => {
    failed ??= new Error(`the system exited during the run:\n${system.stderr().slice(-3000)}`)
  })
  const deadline = Date.now() + o.timeoutMs
  let reported = Date.now()
  const watching = (async () => {
    while (committedAt === undefined && failed === undefined && Date.now() < deadline) {
      const n = await committed(log, o.applicationId, o.input)
      const now = Date.now()
      if (now - reported > 15_000) {
        reported = now
        o.progress?.(
          `  ${Math.round((now - system.spawnedAt) / 1000)} s: ${Math.max(0, n)} of ${inputEnd} input offsets committed, ${t.total} of ${o.ref.total} clicks counted`,
        )
      }
      if (n > 0) firstCommitAt ??= now
      if (n >= inputEnd) committedAt = now
      else await sleep(100)
    }
  })()
  while ((outputAt === undefined || committedAt === undefined) && failed === undefined) {
    if (Date.now() > deadline) {
      failed = new Error(
        `timed out after ${o.timeoutMs} ms: ${t.total} of ${o.ref.total} counted, input ${committedAt === undefined ? 'not ' : ''}committed; ${describeWrong(t, o.ref)}\n${system.stderr().slice(-3000)}`,
      )
      break
    }
    const records = await reader.poll({ timeoutMs: 100 })
    for (const r of records) tally(t, o.ref, r.value as Buffer)
    if (outputAt === undefined && t.total >= o.ref.total) outputAt = Date.now()
  }
  await watching
  const cpuMs = cpuMsOf(system.child.pid)
  const phase = meter.phase(0, 0)
  const brokerMs = brokerCpuMs() - broker0
  await system.stop()
  await reader.close()
  if (failed !== undefined && (outputAt === undefined || committedAt === undefined)) throw failed
  const end = Math.max(outputAt as number, committedAt as number)
  const ms = end - system.spawnedAt
  return {
    ms,
    msFromFirstCommit: end - (firstCommitAt ?? system.spawnedAt),
    startupMs: runningAt - system.spawnedAt,
    cpuMs,
    brokerCpuMs: brokerMs,
    // the meter counts this process's CPU as its own and the rest as "others": take out the system and the broker
    others: Math.max(0, phase.others - (cpuMs + brokerMs) / 1000 / phase.seconds),
    wrongWindows: wrong(t, o.ref),
    duplicates: t.duplicates,
  }
}

export interface LatencyResult {
  p50: number
  p90: number
  p99: number
  max: number
  measured: number
  produced: number
  /** CPU of the system over the whole run, in cores. */
  cores: number
  brokerCores: number
  wrongWindows: number
  duplicates: number
}

/**
 * A steady `rate` of clicks, each stamped with Date.now() at its send (record timestamp and `t`). The windows from
 * `warmupS` to `seconds` after the start are measured; clicks go on for the grace and a second more to close them.
 */
export async function latencyRun(
  log: Log,
  start: () => Started,
  o: {
    applicationId: string
    input: string
    output: string
    partitions: number
    rate: number
    seconds: number
    warmupS: number
    spec: WindowSpec
  },
): Promise<LatencyResult> {
  const reader = await outputReader(log, o.output)
  const system = start()
  let failed: Error | undefined
  let stopping = false
  system.child.once('exit', () => {
    if (!stopping) failed ??= new Error(`the system exited during the run:\n${system.stderr().slice(-3000)}`)
  })
  await system.running
  // produce once the group has settled with the system's consumer in it
  for (let i = 0; i < 600; i++) {
    const group = await log
      .admin()
      .describeGroup(o.applicationId)
      .catch(() => undefined)
    if (group?.state === 'Stable' && group.members.some((m) => m.assignment.length > 0)) break
    if (failed !== undefined) throw failed
    await sleep(100)
  }
  await sleep(1000)
  const producer = log.producer()
  const counts = new Map<string, number>()
  const maxTs = new Array<number>(o.partitions).fill(Number.NEGATIVE_INFINITY)
  const t0 = Date.now()
  const measureFrom = Math.ceil((t0 + o.warmupS * 1000) / o.spec.windowMs) * o.spec.windowMs
  // past the measured span by the grace and a second more, so that its last windows close
  const sendMs = o.seconds * 1000 + o.spec.graceMs + 1000
  const total = Math.round((o.rate * sendMs) / 1000)
  let produced = 0
  const broker0 = brokerCpuMs()
  const cpu0 = cpuMsOf(system.child.pid)
  const producing = (async () => {
    // what is due every 2 ms: a steady rate, whatever the event loop's hiccups
    while (produced < total && failed === undefined) {
      const due = Math.min(total, Math.floor(((Date.now() - t0) * o.rate) / 1000))
      if (due > produced) {
        const now = Date.now()
        const batch: ProducerRecord[] = []
        for (let i = produced; i < due; i++) {
          const c = click(i, now)
          const { key, value } = encode(c)
          const partition = partitionForKey(key, o.partitions)
          maxTs[partition] = now
          const k = windowKey(c.page, windowStart(now, o.spec.windowMs))
          counts.set(k, (counts.get(k) ?? 0) + 1)
          batch.push({ topic: o.input, partition, key, value, timestamp: now })
        }
        await producer.send(batch)
        produced = due
      }
      await sleep(2)
    }
  })()
  const t: OutputTally = { total: 0, duplicates: 0, got: new Map() }
  const latencies: number[] = []
  const lastWindowEnd = t0 + o.seconds * 1000
  const stopReadingAt = t0 + sendMs + 5000
  const close = o.spec.windowMs + o.spec.graceMs
  const empty = { counts: new Map<string, number>(), total: 0, records: 0 }
  while (Date.now() < stopReadingAt && failed === undefined) {
    const records = await reader.poll({ timeoutMs: 20 })
    const now = Date.now()
    for (const r of records) {
      const v = tally(t, empty, r.value as Buffer)
      if (v.start >= measureFrom && v.start + o.spec.windowMs <= lastWindowEnd)
        latencies.push(now - (v.start + close))
    }
  }
  await producing
  const cpuMs = cpuMsOf(system.child.pid) - cpu0
  const brokerMs = brokerCpuMs() - broker0
  const seconds = (Date.now() - t0) / 1000
  await producer.close()
  stopping = true
  await system.stop()
  await reader.close()
  if (failed !== undefined) throw failed
  // every window from the start to the last closed one, against what was sent
  const ref = reference(counts, maxTs, o.spec, produced)
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: latencies[latencies.length - 1],
    measured: latencies.length,
    produced,
    cores: cpuMs / 1000 / seconds,
    brokerCores: brokerMs / 1000 / seconds,
    wrongWindows: wrong(t, ref),
    duplicates: t.duplicates,
  }
}
