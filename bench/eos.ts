// Exactly-once against at-least-once on the same pipeline (bench/eos/pipeline.ts: repartition, keyed process with
// value state, tumbling window count; lmdb state): throughput over --records pre-appended clicks, and end-to-end
// latency at a steady --rate, from a click's send to its output being visible to a read_committed reader in the
// same process. Every run is a fresh child process on a fresh log; the configurations alternate within each
// repetition. Run with `npm run bench:eos -- [--records N] [--rate R] [--seconds S] [--reps N] [--dir DIR]`.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { waitForQuiet } from './log/meter.ts'
import { describeMachine, median } from './log/report.ts'
import { type Message, WorkerProcess } from './worker-process.ts'

const HELP = `usage: node bench/eos.ts [options]
  --records N      clicks appended before each throughput run (default 1000000)
  --rate R         clicks per second in the latency runs (default 5000)
  --seconds S      length of each latency run (default 20); the first --warmup-s are not measured
  --warmup-s S     (default 3)
  --reps N         repetitions of each configuration and phase; medians are reported (default 3)
  --partitions N   partitions of every topic (default 4)
  --state S        lmdb or memory (default lmdb)
  --phases P       throughput,latency (default both)
  --dir DIR        where the logs and state go (default: the OS temp dir)
  --profile-dir D  run the workers with --cpu-prof into D
  --settle C       before each run, wait (up to 60 s) until other processes keep fewer than C cores busy
  --flush-every-ms M  experiment: the worker skips every flush of local state the runner asks for less than M ms
                   after the last one it let through (the runner itself flushes every 5 s or 50,000 changelog
                   records per task)
  --timeout-s S    bound on each child process (default 600)
`

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '20' },
    'warmup-s': { type: 'string', default: '3' },
    reps: { type: 'string', default: '3' },
    partitions: { type: 'string', default: '4' },
    state: { type: 'string', default: 'lmdb' },
    phases: { type: 'string', default: 'throughput,latency' },
    dir: { type: 'string' },
    'profile-dir': { type: 'string' },
    'flush-every-ms': { type: 'string' },
    settle: { type: 'string' },
    'timeout-s': { type: 'string', default: '600' },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  process.stdout.write(HELP)
  process.exit(0)
}

interface Config {
  label: string
  guarantee: 'exactly-once' | 'at-least-once'
  commitIntervalMs: number
}
const CONFIGS: Config[] = [
  { label: 'exactly-once, 100 ms (default)', guarantee: 'exactly-once', commitIntervalMs: 100 },
  { label: 'at-least-once, 1000 ms (default)', guarantee: 'at-least-once', commitIntervalMs: 1000 },
  { label: 'at-least-once, 100 ms', guarantee: 'at-least-once', commitIntervalMs: 100 },
]
const TARGET_RATIO = 0.9

const reps = Number(values.reps)
const timeoutMs = Number(values['timeout-s']) * 1000
const phases = values.phases.split(',')
const worker = resolve(import.meta.dirname, 'eos/worker.ts')
const base = resolve(values.dir ?? tmpdir())
const root = mkdtempSync(join(base, 'sluice-eos-'))
const machine = describeMachine(base)
const log = (msg: string) => process.stderr.write(`${msg}\n`)

let current: WorkerProcess | undefined
const cleanup = () => {
  current?.child.kill('SIGKILL')
  rmSync(root, { recursive: true, force: true })
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanup()
    process.exit(signal === 'SIGINT' ? 130 : 143)
  })
}

let runs = 0
async function run(phase: string, config: Config): Promise<Message> {
  const dir = join(root, `run-${++runs}`)
  const profile = values['profile-dir']
  const nodeArgs =
    profile === undefined
      ? []
      : [
          '--cpu-prof',
          `--cpu-prof-dir=${profile}`,
          `--cpu-prof-name=${phase}-${config.guarantee}-${config.commitIntervalMs}-${runs}.cpuprofile`,
        ]
  current = new WorkerProcess(
    worker,
    [
      '--phase',
      phase,
      '--guarantee',
      config.guarantee,
      '--commit-interval',
      String(config.commitIntervalMs),
      '--data-dir',
      join(dir, 'log'),
      '--state-dir',
      join(dir, 'state'),
      '--state',
      values.state,
      '--partitions',
      values.partitions,
      '--records',
      values.records,
      '--rate',
      values.rate,
      '--seconds',
      values.seconds,
      '--warmup-s',
      values['warmup-s'],
      '--timeout-s',
      values['timeout-s'],
      ...(values['flush-every-ms'] === undefined ? [] : ['--flush-every-ms', values['flush-every-ms']]),
    ],
    { nodeArgs, timeoutMs },
  )
  try {
    const result = await current.next('result')
    await current.exited()
    return result
  } finally {
    await current.kill()
    rmSync(dir, { recursive: true, force: true })
  }
}

const results = new Map<string, Message[]>()
const key = (phase: string, c: Config) => `${phase}/${c.label}`
try {
  for (const phase of phases) {
    for (let rep = 0; rep < reps; rep++) {
      // alternate: each repetition starts with the next configuration
      for (let i = 0; i < CONFIGS.length; i++) {
        const config = CONFIGS[(rep + i) % CONFIGS.length]
        if (values.settle !== undefined) await waitForQuiet(Number(values.settle), 60_000)
        const r = await run(phase, config)
        results.set(key(phase, config), [...(results.get(key(phase, config)) ?? []), r])
        log(
          phase === 'throughput'
            ? `${phase} rep ${rep + 1}, ${config.label}: ${Math.round(((r.records as number) / (r.ms as number)) * 1000)} records/s, cpu ${((r.cpuMs as number) / (r.ms as number)).toFixed(2)}, others ${(r.others as number).toFixed(2)}, flushing ${(((r.flushMs as number) / (r.ms as number)) * 100).toFixed(0)}%`
            : `${phase} rep ${rep + 1}, ${config.label}: p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms (${r.measured} measured, ${r.seen}/${r.produced} seen), others ${(r.others as number).toFixed(2)}, flushing ${(((r.flushMs as number) / (r.ms as number)) * 100).toFixed(0)}%`,
        )
      }
    }
  }
} finally {
  cleanup()
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
/** Share of the run the thread spent blocked in local-state flushes, and the median flush. */
const flushShare = (list: Message[]) => {
  const share = median(list.map((m) => (m.flushMs as number) / (m.ms as number)))
  const each = median(list.map((m) => (m.flushMs as number) / Math.max(1, m.flushes as number)))
  return `${(share * 100).toFixed(0)}% (${each.toFixed(1)} ms per flush)`
}
const out: string[] = [
  `Machine: ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.filesystem}, ` +
    `kernel ${machine.kernel}; Node ${machine.node}; ${machine.date}. State: ${values.state}` +
    `${values['flush-every-ms'] === undefined ? " (flushed at the runner's defaults: every 5 s or 50,000 changelog records per task)" : `, flushed at most every ${values['flush-every-ms']} ms (experiment)`}; ` +
    `${values.partitions} partitions per topic; log fsync: interval (1 s, the default)` +
    `${values.settle === undefined ? '' : `; each run waited up to 60 s for other processes to use < ${values.settle} cores`}.`,
  '',
]
if (phases.includes('throughput')) {
  const rate = (m: Message) => ((m.records as number) / (m.ms as number)) * 1000
  const perCpu = (m: Message) => ((m.records as number) / (m.cpuMs as number)) * 1000
  const summary = CONFIGS.map((c) => {
    const list = results.get(key('throughput', c)) ?? []
    return { c, list, rate: median(list.map(rate)), perCpu: median(list.map(perCpu)) }
  })
  const [eos, aloDefault, alo100] = summary
  /** The ratio of two configurations' runs in each repetition (runs are listed in repetition order), and its median. */
  const repRatios = (a: Message[], b: Message[], f = rate) => {
    const ratios = a.slice(0, b.length).map((m, i) => f(m) / f(b[i]))
    const pct = (x: number) => `${(x * 100).toFixed(0)}%`
    return `median ${pct(median(ratios))} (${ratios.map(pct).join(', ')})`
  }
  out.push(
    `Throughput: ${fmt(Number(values.records))} clicks appended first, then the pipeline runs until a read_committed ` +
      `reader has seen all ${fmt(Number(values.records))} outputs of the process step; medians of ${reps} alternated runs.`,
    '',
    '| configuration | runs | records/s (median) | min – max | records per CPU-second | CPU / wall | other processes (cores) | thread blocked in state flushes | vs at-least-once 1000 ms | vs at-least-once 100 ms |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...summary.map(
      (s) =>
        `| ${s.c.label} | ${s.list.length} | ${fmt(s.rate)} | ${fmt(Math.min(...s.list.map(rate)))} – ${fmt(Math.max(...s.list.map(rate)))} ` +
        `| ${fmt(s.perCpu)} | ${median(s.list.map((m) => (m.cpuMs as number) / (m.ms as number))).toFixed(2)} ` +
        `| ${median(s.list.map((m) => m.others as number)).toFixed(2)} | ${flushShare(s.list)} ` +
        `| ${((s.rate / aloDefault.rate) * 100).toFixed(0)}% | ${((s.rate / alo100.rate) * 100).toFixed(0)}% |`,
    ),
    '',
    `Target (exactly-once costs at most 10%: at least ${TARGET_RATIO * 100}% of at-least-once's records/s): ` +
      `against the defaults ${eos.rate >= TARGET_RATIO * aloDefault.rate ? 'met' : 'not met'} ` +
      `(${((eos.rate / aloDefault.rate) * 100).toFixed(0)}%); at 100 ms both ` +
      `${eos.rate >= TARGET_RATIO * alo100.rate ? 'met' : 'not met'} (${((eos.rate / alo100.rate) * 100).toFixed(0)}%).`,
    '',
    // The configurations of one repetition run back to back, so under a load that comes and goes their ratio
    // varies less than the ratio of medians taken over the whole series.
    `Per repetition, exactly-once against at-least-once at its default: ${repRatios(eos.list, aloDefault.list)}; ` +
      `in records per CPU-second: ${repRatios(eos.list, aloDefault.list, perCpu)}.`,
    '',
  )
}
if (phases.includes('latency')) {
  out.push(
    `Latency: ${values.rate} clicks/s for ${values.seconds} s (the first ${values['warmup-s']} s not measured), ` +
      'from the send of a click to the moment a read_committed reader polling the output topic in the same process ' +
      `sees its output; per-run percentiles, medians of ${reps} alternated runs.`,
    '',
    '| configuration | runs | outputs measured per run | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | other processes (cores) | thread blocked in state flushes |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...CONFIGS.map((c) => {
      const list = results.get(key('latency', c)) ?? []
      const med = (f: string) => fmt(median(list.map((m) => m[f] as number)))
      return (
        `| ${c.label} | ${list.length} | ${med('measured')} | ${med('p50')} | ${med('p90')} | ${med('p99')} | ${med('max')} ` +
        `| ${median(list.map((m) => m.others as number)).toFixed(2)} | ${flushShare(list)} |`
      )
    }),
    '',
  )
}
process.stdout.write(out.join('\n'))
log(
  `runs:\n${[...results].map(([k, list]) => list.map((m) => `${k} ${JSON.stringify(m)}`).join('\n')).join('\n')}`,
)
