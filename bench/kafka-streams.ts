// Sluice against Kafka Streams and kcat on one Kafka broker on this machine, in one run: the same windowed count
// (bench/kafka-streams/pipeline.ts; bench/peers/kafka-streams for the Java side), both exactly-once, for throughput
// over a prepared input topic and for end-to-end latency at a steady rate; and Sluice's Kafka producer and consumer
// against kcat. The systems alternate within each repetition; medians are reported. `npm run bench:kafka -- --help`.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { openKafkaLog } from '../src/kafka/index.ts'
import type { Log } from '../src/log/contract.ts'
import { type KafkaCluster, startKafka } from '../test/support/kafka.ts'
import { type RawResult, rawConsume, rawProduce } from './kafka-streams/raw.ts'
import {
  type LatencyResult,
  latencyRun,
  prepareInput,
  type Reference,
  type ThroughputResult,
  throughputRun,
} from './kafka-streams/runs.ts'
import {
  buildKafkaStreams,
  killAll,
  type SystemName,
  type SystemOptions,
  startSystem,
} from './kafka-streams/systems.ts'
import { waitForQuiet } from './log/meter.ts'
import { describeMachine, median } from './log/report.ts'

const HELP = `usage: node bench/kafka-streams.ts [options]   (npm run bench:kafka -- [options])
Starts one Kafka broker on 127.0.0.1 (test/support/kafka.ts), builds bench/peers/kafka-streams with Maven on first
use, and measures, alternating the systems in every repetition:
  throughput  the windowed count over --records prepared clicks, Sluice and Kafka Streams, exactly-once
  latency     the same pipeline at a steady --rate: window end + grace to the count readable (read_committed)
  raw         Sluice's Kafka producer and consumer against kcat, the same records on the same broker
options:
  --records N      clicks in the prepared input topic (default 3000000)
  --partitions N   partitions of every topic (default 4)
  --event-rate R   clicks per second of event time in the prepared input (default 20000)
  --window-ms N    tumbling window size (default 1000)
  --grace-ms N     Kafka Streams' grace = Sluice's watermark out-of-orderness (default 10000)
  --rate R         clicks per second in the latency runs (default 5000)
  --seconds S      measured span of each latency run (default 60; the clicks go on for the grace + 1 s more to
                   close its windows); windows in the first --warmup-s are not measured
  --warmup-s S     (default 5)
  --reps N         repetitions of each system and phase (default 3; raw runs 2 × reps)
  --phases P       any of throughput,latency,raw (default all)
  --systems S      sluice,kafka-streams (default both)
  --ks-store S     Kafka Streams window store: memory (default, like Sluice's default) or rocksdb
  --ks-emit E      suppress (suppress(untilWindowCloses), default) or close (emitStrategy(onWindowClose):
                   it emits at most once a second and only when a record arrives, so a bounded input's last
                   windows never come; the private __emit.interval.ms.kstreams.windowed.aggregation__ sets that)
  --ks-heap H      the Kafka Streams JVM's -Xmx/-Xms (default 512m)
  --ks-config C    more Kafka Streams settings, key=value,...
  --settle C       before each run, wait (up to 60 s) until other processes keep fewer than C cores busy
  --produce-batch N  records per send() of Sluice's raw producer (default 1000)
  --profile-dir D  run the Sluice processes with --cpu-prof into D
  --timeout-s S    bound on each run (default 900)
  --quick          a smoke run: 300000 records at 10000/s of event time, 1 repetition, 12 s latency runs
  --help
`

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '3000000' },
    partitions: { type: 'string', default: '4' },
    'event-rate': { type: 'string', default: '20000' },
    'window-ms': { type: 'string', default: '1000' },
    'grace-ms': { type: 'string', default: '10000' },
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '60' },
    'warmup-s': { type: 'string', default: '5' },
    reps: { type: 'string', default: '3' },
    phases: { type: 'string', default: 'throughput,latency,raw' },
    systems: { type: 'string', default: 'sluice,kafka-streams' },
    'ks-store': { type: 'string', default: 'memory' },
    'ks-emit': { type: 'string', default: 'suppress' },
    'ks-heap': { type: 'string', default: '512m' },
    'ks-config': { type: 'string' },
    settle: { type: 'string' },
    'produce-batch': { type: 'string', default: '1000' },
    'profile-dir': { type: 'string' },
    'timeout-s': { type: 'string', default: '900' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  process.stdout.write(HELP)
  process.exit(0)
}
if (values.quick) {
  values.records = '300000'
  values['event-rate'] = '10000'
  values.reps = '1'
  values.seconds = '12'
  values['warmup-s'] = '3'
}

const records = Number(values.records)
const partitions = Number(values.partitions)
const spec = { windowMs: Number(values['window-ms']), graceMs: Number(values['grace-ms']) }
const reps = Number(values.reps)
const timeoutMs = Number(values['timeout-s']) * 1000
const phases = values.phases.split(',')
const systems = values.systems.split(',') as SystemName[]
const log = (msg: string) => process.stderr.write(`${msg}\n`)

const root = mkdtempSync(join(tmpdir(), 'sluice-bench-kafka-'))
// read before the runs: others may commit meanwhile
const git = gitState()
let cluster: KafkaCluster | undefined
let kafka: Log | undefined
let cleaning: Promise<void> | undefined
const cleanup = () => {
  cleaning ??= (async () => {
    killAll()
    await kafka?.close().catch(() => {})
    await cluster?.stop().catch(() => {})
    rmSync(root, { recursive: true, force: true })
  })()
  return cleaning
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping every process this benchmark started`)
    setTimeout(() => process.exit(130), 10_000).unref()
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  })
}

function gitState(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', 'src'], { encoding: 'utf8' }).trim()
    return dirty === '' ? `commit ${commit}` : `commit ${commit} (src/ has uncommitted changes)`
  } catch {
    return 'commit unknown'
  }
}

function javaVersion(): string {
  const first = spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr?.split('\n')[0] ?? ''
  return /"([^"]+)"/.exec(first)?.[1] ? `Java ${/"([^"]+)"/.exec(first)?.[1]}` : 'Java unknown'
}

const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–')
const fmt2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–')
const label = (s: SystemName) => (s === 'sluice' ? 'Sluice' : 'Kafka Streams')
/** Each repetition starts with the next system. */
const rotate = <T>(list: readonly T[], rep: number): T[] => list.map((_, i) => list[(rep + i) % list.length])

const throughputs = new Map<SystemName, ThroughputResult[]>()
const latencies = new Map<SystemName, LatencyResult[]>()
const raws = new Map<string, RawResult[]>()
const push = <K, V>(m: Map<K, V[]>, k: K, v: V) => m.set(k, [...(m.get(k) ?? []), v])

const ksConfig = values['ks-config'] ?? ''

let runs = 0
let ref: Reference = { records: 0, counts: new Map(), total: 0 }
let bytes = 0
function starter(system: SystemName, applicationId: string, input: string, output: string) {
  const stateDir = join(root, `state-${applicationId}`)
  mkdirSync(stateDir, { recursive: true })
  const profile = values['profile-dir']
  const o: SystemOptions = {
    brokers: cluster!.brokers,
    applicationId,
    input,
    output,
    ...spec,
    stateDir,
    heap: values['ks-heap'],
    store: values['ks-store'],
    emit: values['ks-emit'],
    config: ksConfig,
    nodeArgs:
      profile === undefined
        ? []
        : ['--cpu-prof', `--cpu-prof-dir=${profile}`, `--cpu-prof-name=${applicationId}.cpuprofile`],
  }
  return () => startSystem(system, o)
}

/** Waits for a quieter machine before a run, with --settle. */
async function settle(): Promise<void> {
  if (values.settle !== undefined) await waitForQuiet(Number(values.settle), 60_000)
}

/** Deletes a run's topics (its output and internal topics) so that the broker's disk does not fill up. */
async function dropTopics(prefix: string): Promise<void> {
  const admin = kafka!.admin()
  for (const t of await admin.listTopics())
    if (t.startsWith(prefix)) await admin.deleteTopic(t).catch(() => {})
}

try {
  if (systems.includes('kafka-streams') && (phases.includes('throughput') || phases.includes('latency')))
    buildKafkaStreams(log)
  if (phases.includes('raw')) execFileSync('kcat', ['-V'], { stdio: 'ignore' })
  log('starting Kafka')
  cluster = await startKafka()
  kafka = await openKafkaLog({ brokers: cluster.brokers, clientId: 'bench-harness' })
  const input = 'clicks'
  const kcatFile = join(root, 'clicks.tsv')
  log(`preparing ${fmt(records)} clicks in topic ${input} (${partitions} partitions)`)
  ref = await prepareInput(kafka, input, {
    records,
    partitions,
    eventRate: Number(values['event-rate']),
    kcatFile,
    ...spec,
  })
  bytes = statSync(kcatFile).size - 2 * records // key TAB value NL: the key and value bytes
  log(`  ${fmt(ref.counts.size)} windows close in the data, holding ${fmt(ref.total)} clicks`)
  if (ref.total === 0)
    throw new Error(
      'no window closes in the data: give more --records, a higher --event-rate or a shorter --grace-ms',
    )

  if (phases.includes('throughput')) {
    for (let rep = 0; rep < reps; rep++) {
      for (const system of rotate(systems, rep)) {
        await settle()
        const applicationId = `tp-${system}-${++runs}`
        const output = `${applicationId}-out`
        await kafka.admin().createTopic(output, { partitions })
        const r = await throughputRun(kafka, starter(system, applicationId, input, output), {
          applicationId,
          input,
          output,
          ref,
          timeoutMs,
          progress: log,
        })
        await dropTopics(applicationId)
        push(throughputs, system, r)
        log(
          `throughput rep ${rep + 1}, ${label(system)}: ${fmt((records / r.ms) * 1000)} records/s ` +
            `(${fmt((records / r.msFromFirstCommit) * 1000)} from the first commit; started in ${fmt(r.startupMs)} ms), ` +
            `cpu ${fmt2(r.cpuMs / r.ms)}, broker ${fmt2(r.brokerCpuMs / r.ms)}, others ${fmt2(r.others)}, ` +
            `wrong windows ${r.wrongWindows}, duplicates ${r.duplicates}`,
        )
      }
    }
  }

  if (phases.includes('latency')) {
    for (let rep = 0; rep < reps; rep++) {
      for (const system of rotate(systems, rep)) {
        await settle()
        const applicationId = `lat-${system}-${++runs}`
        const latencyInput = `${applicationId}-in`
        const output = `${applicationId}-out`
        await kafka.admin().createTopic(latencyInput, { partitions })
        await kafka.admin().createTopic(output, { partitions })
        const r = await latencyRun(kafka, starter(system, applicationId, latencyInput, output), {
          applicationId,
          input: latencyInput,
          output,
          partitions,
          rate: Number(values.rate),
          seconds: Number(values.seconds),
          warmupS: Number(values['warmup-s']),
          spec,
        })
        await dropTopics(applicationId)
        push(latencies, system, r)
        log(
          `latency rep ${rep + 1}, ${label(system)}: p50 ${r.p50} ms, p90 ${r.p90} ms, p99 ${r.p99} ms, max ${r.max} ms ` +
            `(${fmt(r.measured)} counts measured), cpu ${fmt2(r.cores)}, broker ${fmt2(r.brokerCores)}, ` +
            `wrong windows ${r.wrongWindows}, duplicates ${r.duplicates}`,
        )
      }
    }
  }

  if (phases.includes('raw')) {
    const clients = ['sluice', 'kcat'] as const
    const brokers = cluster.brokers
    for (let rep = 0; rep < 2 * reps; rep++) {
      for (const client of rotate(clients, rep)) {
        await settle()
        const topic = `raw-${client}-${++runs}`
        const batch = Number(values['produce-batch'])
        const r = await rawProduce(kafka, client, {
          brokers,
          topic,
          partitions,
          file: kcatFile,
          batch,
          records,
          bytes,
        })
        push(raws, `produce/${client}`, r)
        log(
          `raw produce rep ${rep + 1}, ${client}: ${fmt((r.records / r.ms) * 1000)} records/s, cpu ${fmt2(r.cpuMs / r.processMs)}`,
        )
      }
      for (const client of rotate(clients, rep)) {
        await settle()
        const r = await rawConsume(client, { brokers, topic: input, records, bytes })
        push(raws, `consume/${client}`, r)
        log(
          `raw consume rep ${rep + 1}, ${client}: ${fmt((r.records / r.ms) * 1000)} records/s, cpu ${fmt2(r.cpuMs / r.processMs)}`,
        )
      }
    }
  }
} finally {
  await cleanup()
}

const machine = describeMachine(tmpdir())
const out: string[] = [
  `Machine: ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.filesystem}, ` +
    `kernel ${machine.kernel}; Node ${machine.node}; ${javaVersion()}; ${machine.date}; ${git}.`,
  `One Kafka 4.1.1 broker (KRaft, -Xmx512m) on 127.0.0.1; ${partitions} partitions per topic; tumbling ${spec.windowMs} ms ` +
    `windows, grace ${spec.graceMs} ms; Kafka Streams 4.1.1 with a ${values['ks-store']} window store, ` +
    `emit ${values['ks-emit'] === 'close' ? 'onWindowClose' : 'suppress(untilWindowCloses)'}${ksConfig === '' ? '' : ` (${ksConfig})`}, -Xmx${values['ks-heap']}, one stream thread; ` +
    `Sluice: runPipeline's defaults (memory state). Both exactly-once, 100 ms commits.`,
  '',
]
const closedWindows = ref.counts.size
const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN)

if (throughputs.size > 0) {
  const rate = (r: ThroughputResult) => (records / r.ms) * 1000
  const rows = systems.map((s) => {
    const list = throughputs.get(s) ?? []
    return {
      s,
      list,
      rate: median(list.map(rate)),
      fromFirst: median(list.map((r) => (records / r.msFromFirstCommit) * 1000)),
      perCpu: median(list.map((r) => (records / r.cpuMs) * 1000)),
    }
  })
  out.push(
    `Throughput: ${fmt(records)} clicks prepared (${fmt(Number(values['event-rate']))}/s of event time), read from the start; ` +
      `the clock runs from the process's spawn until every input offset is committed and all ${fmt(closedWindows)} closed windows ` +
      `are readable (read_committed). Medians of ${reps} alternated runs.`,
    '',
    '| system | records/s | min – max | records/s from the first commit | start to running (ms) | records per CPU-second | system cores | broker cores | other processes (cores) | wrong windows | duplicates |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows.map(
      (r) =>
        `| ${label(r.s)} | ${fmt(r.rate)} | ${fmt(Math.min(...r.list.map(rate)))} – ${fmt(Math.max(...r.list.map(rate)))} ` +
        `| ${fmt(r.fromFirst)} | ${fmt(median(r.list.map((x) => x.startupMs)))} | ${fmt(r.perCpu)} ` +
        `| ${fmt2(median(r.list.map((x) => x.cpuMs / x.ms)))} | ${fmt2(median(r.list.map((x) => x.brokerCpuMs / x.ms)))} ` +
        `| ${fmt2(median(r.list.map((x) => x.others)))} | ${Math.max(...r.list.map((x) => x.wrongWindows))} ` +
        `| ${Math.max(...r.list.map((x) => x.duplicates))} |`,
    ),
    '',
  )
  const [sl, ks] = [rows.find((r) => r.s === 'sluice'), rows.find((r) => r.s === 'kafka-streams')]
  if (sl !== undefined && ks !== undefined) {
    const x = ratio(sl.rate, ks.rate)
    const perRep = sl.list.map((r, i) =>
      ratio(rate(r), ks.list[i] === undefined ? Number.NaN : rate(ks.list[i])),
    )
    out.push(
      `Target (Sluice's throughput ≥ Kafka Streams'): ratio of the medians ${fmt2(x)} (from the first commit ` +
        `${fmt2(ratio(sl.fromFirst, ks.fromFirst))}; per CPU-second ${fmt2(ratio(sl.perCpu, ks.perCpu))}); per repetition ` +
        `${perRep.map(fmt2).join(', ')}, median ${fmt2(median(perRep))}: **${x >= 1 ? 'met' : 'not met'}**.`,
      '',
    )
  }
}

if (latencies.size > 0) {
  const rows = systems.map((s) => {
    const list = latencies.get(s) ?? []
    const m = (f: (r: LatencyResult) => number) => median(list.map(f))
    return {
      s,
      list,
      p50: m((r) => r.p50),
      p90: m((r) => r.p90),
      p99: m((r) => r.p99),
      max: m((r) => r.max),
      m,
    }
  })
  out.push(
    `Latency at ${fmt(Number(values.rate))} clicks/s for ${values.seconds} s, each click stamped with its send time: a count's ` +
      `latency runs from its window's end + grace (when the click that closes it was sent) to the count being readable ` +
      `(read_committed); the first ${values['warmup-s']} s are not measured. Percentiles per run, medians of ${reps} runs, ms.`,
    '',
    '| system | p50 | p90 | p99 | max | counts measured | system cores | broker cores | wrong windows | duplicates |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows.map(
      (r) =>
        `| ${label(r.s)} | ${fmt(r.p50)} | ${fmt(r.p90)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${fmt(r.m((x) => x.measured))} ` +
        `| ${fmt2(r.m((x) => x.cores))} | ${fmt2(r.m((x) => x.brokerCores))} | ${Math.max(...r.list.map((x) => x.wrongWindows))} ` +
        `| ${Math.max(...r.list.map((x) => x.duplicates))} |`,
    ),
    '',
  )
  const [sl, ks] = [rows.find((r) => r.s === 'sluice'), rows.find((r) => r.s === 'kafka-streams')]
  if (sl !== undefined && ks !== undefined) {
    out.push(
      `Target (Sluice's p99 no worse than Kafka Streams'): ${fmt(sl.p99)} ms against ${fmt(ks.p99)} ms ` +
        `(per repetition ${sl.list.map((r, i) => `${fmt(r.p99)}/${fmt(ks.list[i]?.p99 ?? Number.NaN)}`).join(', ')}): ` +
        `**${sl.p99 <= ks.p99 ? 'met' : 'not met'}**.`,
      '',
    )
  }
}

if (raws.size > 0) {
  const row = (op: string, client: string) => {
    const list = raws.get(`${op}/${client}`) ?? []
    return {
      list,
      rate: median(list.map((r) => (r.records / r.ms) * 1000)),
      mb: median(list.map((r) => r.bytes / r.ms / 1000)),
      perCpu: median(list.map((r) => (r.records / r.cpuMs) * 1000)),
      cores: median(list.map((r) => r.cpuMs / r.processMs)),
      process: median(list.map((r) => (r.records / r.processMs) * 1000)),
    }
  }
  out.push(
    `Raw client throughput over the same ${fmt(records)} records (${fmt(bytes / records)} bytes of key and value each), ` +
      `medians of ${2 * reps} alternated runs. Sluice: openKafkaLog's producer, send() of ${fmt(Number(values['produce-batch']))} records ` +
      'awaited in turn (idempotent, acks=all), and its consumer, assign + poll() to the end; kcat -P (-X enable.idempotence=true) ' +
      'and kcat -C -e to /dev/null.',
    '',
    "| operation | client | records/s | MB/s | records per CPU-second (whole process) | client cores | Sluice records/s with Node's start | Sluice ÷ kcat |",
    '|---|---|--:|--:|--:|--:|--:|--:|',
  )
  const perRepRaw: string[] = []
  for (const op of ['produce', 'consume']) {
    const kc = row(op, 'kcat')
    const sl = raws.get(`${op}/sluice`) ?? []
    const kl = raws.get(`${op}/kcat`) ?? []
    perRepRaw.push(
      `${op} ${sl.map((r, i) => fmt2(ratio(r.records / r.ms, kl[i] === undefined ? Number.NaN : kl[i].records / kl[i].ms))).join(', ')}`,
    )
    for (const client of ['sluice', 'kcat']) {
      const r = row(op, client)
      out.push(
        `| ${op} | ${client} | ${fmt(r.rate)} | ${r.mb.toFixed(1)} | ${fmt(r.perCpu)} | ${fmt2(r.cores)} ` +
          `| ${client === 'sluice' ? fmt(r.process) : ''} | ${client === 'sluice' ? fmt2(ratio(r.rate, kc.rate)) : ''} |`,
      )
    }
  }
  out.push('', `Sluice ÷ kcat per repetition: ${perRepRaw.join('; ')}.`, '')
}

process.stdout.write(`${out.join('\n')}\n`)
