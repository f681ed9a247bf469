// The embedded log's throughput benchmark: append and read of 100-byte records at several batch sizes and fsync
// modes, through the public API and at the PartitionLog level, next to dd and a plain framed write loop.
// Run with `npm run bench:log -- [--quick] [--reps N] [--seconds S] [--json]`; see --help.
import { mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import {
  type CaseResult,
  type CaseSpec,
  type FsyncMode,
  type Layer,
  type Limits,
  runCase,
} from './log/cases.ts'
import { type Phase, waitForQuiet } from './log/meter.ts'
import { type DdResult, ddWrite, plainFramedLoop } from './log/peers.ts'
import { type CaseSummary, describeMachine, markdown, median, rates } from './log/report.ts'
import { KEY_BYTES, makeRecords, VALUE_BYTES } from './log/workload.ts'

const HELP = `usage: node bench/log.ts [options]
  --quick              one repetition, 0.5 s per phase, smaller dd (a smoke run)
  --reps N             repetitions of the whole suite; medians are reported (default 3)
  --seconds S          time bound of each append and read phase (default 2)
  --max-records N      record bound of each append phase (default 8000000)
  --max-always-1 N     record bound for fsync=always with batches of 1 (default 2000)
  --interval-ms MS     fsync interval of the interval mode (default 1000, the log's default)
  --layers L           api,partition (default both)
  --batches B          1,100,1000 (default all)
  --fsync F            always,interval,os (default all)
  --segment-bytes N    segment.bytes of the benchmark topic (default: the log's, 128 MiB)
  --dd-mib N           size of the dd write (default 512)
  --dir DIR            where data goes: the filesystem under test (default ${tmpdir()})
  --json               also write the raw results as JSON to bench/results/log-<date>.json
  --json-file FILE     ... or to FILE
  --no-peers           skip dd and the plain write loop
  --settle CORES       before each case, wait (up to 60 s) until other processes use fewer than CORES cores
`

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    seconds: { type: 'string' },
    'max-records': { type: 'string' },
    'max-always-1': { type: 'string' },
    'interval-ms': { type: 'string' },
    layers: { type: 'string', default: 'partition,api' },
    batches: { type: 'string', default: '1,100,1000' },
    fsync: { type: 'string', default: 'always,interval,os' },
    'dd-mib': { type: 'string' },
    'segment-bytes': { type: 'string' },
    dir: { type: 'string', default: tmpdir() },
    json: { type: 'boolean', default: false },
    'json-file': { type: 'string' },
    'no-peers': { type: 'boolean', default: false },
    settle: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  allowPositionals: false,
})

if (values.help) {
  process.stdout.write(HELP)
  process.exit(0)
}

const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v))
const quick = values.quick
const reps = num(values.reps, quick ? 1 : 3)
const baseDir = resolve(values.dir)
const limits: Limits = {
  seconds: num(values.seconds, quick ? 0.5 : 2),
  maxRecords: num(values['max-records'], quick ? 2_000_000 : 8_000_000),
  maxRecordsAlways1: num(values['max-always-1'], quick ? 500 : 2000),
  intervalMs: num(values['interval-ms'], 1000),
  segmentBytes: values['segment-bytes'] === undefined ? undefined : Number(values['segment-bytes']),
  baseDir,
}
const ddMib = num(values['dd-mib'], quick ? 256 : 512)
const layers = values.layers.split(',') as Layer[]
const batches = values.batches.split(',').map(Number)
const modes = values.fsync.split(',') as FsyncMode[]
const specs: CaseSpec[] = []
for (const layer of layers)
  for (const fsync of modes) for (const batch of batches) specs.push({ layer, fsync, batch })

const pool = makeRecords()
const results = new Map<string, CaseResult[]>()
const dds: DdResult[] = []
const plains: Phase[] = []
const keyOf = (s: CaseSpec) => `${s.layer}/${s.fsync}/${s.batch}`
const log = (msg: string) => process.stderr.write(`${msg}\n`)

/** The disk's bandwidth varies a lot on shared machines: dd runs before and after each repetition. */
function measureDd(rep: number): void {
  const dd = ddWrite(baseDir, ddMib)
  dds.push(dd)
  log(`rep ${rep}: dd ${dd.mbPerSec.toFixed(0)} MB/s`)
}

for (let rep = 1; rep <= reps; rep++) {
  if (!values['no-peers']) {
    measureDd(rep)
    const plain = await plainFramedLoop(baseDir, pool, limits.seconds, limits.maxRecords, limits.intervalMs)
    plains.push(plain)
    log(`rep ${rep}: plain loop ${(plain.records / plain.seconds).toFixed(0)} records/s`)
  }
  for (const spec of specs) {
    if (values.settle !== undefined) {
      const others = await waitForQuiet(Number(values.settle), 60_000)
      if (others >= Number(values.settle))
        log(`rep ${rep}: ${keyOf(spec)} starts busy (${others.toFixed(2)} cores)`)
    }
    const r = await runCase(spec, pool, limits)
    const list = results.get(keyOf(spec)) ?? []
    list.push(r)
    results.set(keyOf(spec), list)
    log(
      `rep ${rep}: ${keyOf(spec)} append ${(r.append.records / r.append.seconds).toFixed(0)} records/s, ` +
        `read ${(r.read.records / r.read.seconds).toFixed(0)} records/s`,
    )
  }
  if (!values['no-peers']) measureDd(rep)
}

const summaries: CaseSummary[] = specs.map((spec) => {
  const list = results.get(keyOf(spec)) ?? []
  return {
    ...spec,
    append: rates(list.map((r) => r.append)),
    read: rates(list.map((r) => r.read)),
    bytesPerRecord: median(list.map((r) => r.append.bytes / r.append.records)),
  }
})
const none = {
  recPerSec: Number.NaN,
  mbPerSec: Number.NaN,
  cpu: Number.NaN,
  recPerCpuSec: Number.NaN,
  others: Number.NaN,
}
const plain = plains.length > 0 ? rates(plains) : none
const machine = describeMachine(baseDir)
const onDisk = batches
  .map((b) => {
    const c = summaries.find((x) => x.batch === b)
    return c === undefined ? '' : `${c.bytesPerRecord.toFixed(1)} B at batch ${b}`
  })
  .filter((x) => x !== '')
  .join(', ')
const settings = [
  `${reps} repetition(s), medians`,
  `each phase bounded by ${limits.seconds} s and ${limits.maxRecords} records (${limits.maxRecordsAlways1} for fsync=always with batch 1)`,
  `interval mode fsyncs every ${limits.intervalMs} ms`,
  `segment.bytes ${limits.segmentBytes ?? 'default (128 MiB)'}`,
  `values ${VALUE_BYTES} B, keys ${KEY_BYTES} B, no headers; on disk per record: ${onDisk}`,
  `dd ${ddMib} MiB with conv=fdatasync`,
  values.settle === undefined
    ? 'no settling'
    : `each case waited (up to 60 s) for other processes to use < ${values.settle} cores`,
].join('; ')
process.stdout.write(
  `${markdown(
    machine,
    settings,
    summaries,
    dds.map((d) => d.mbPerSec),
    plain,
  )}\n`,
)

if (values.json || values['json-file'] !== undefined) {
  const file = values['json-file'] ?? `bench/results/log-${machine.date.replace(/[:.]/g, '-')}.json`
  mkdirSync(dirname(file), { recursive: true })
  const raw = Object.fromEntries(results)
  writeFileSync(
    file,
    `${JSON.stringify({ machine, limits, reps, dd: dds, plain: plains, summaries, raw }, null, 2)}\n`,
  )
  log(`wrote ${file}`)
}
