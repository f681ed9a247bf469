// The fraud detection benchmark (apps/fraud): transactions per CPU-second through the whole pipeline with every rule
// on and 100,000 active accounts, memory per active account, and alert latency through the runner under
// exactly-once at a steady rate. Every run is a child process of its own (bench/fraud/throughput.ts, latency.ts);
// repetitions alternate the commit intervals; medians are reported. Run with `npm run bench:fraud -- [--quick] ...`;
// see --help.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { waitForQuiet } from './log/meter.ts'
import { describeMachine, median } from './log/report.ts'
import { type Message, WorkerProcess } from './worker-process.ts'

const HELP = `usage: node bench/fraud.ts [options]
  --quick               a smoke run: one repetition, 500,000 transactions, latency runs of 10 s
  --reps N              repetitions of each measurement; medians are reported (default 3)
  --accounts N          clean accounts (default 100,000; 400 fraud accounts come on top)
  --events N            transactions per throughput run (default 2,000,000)
  --rate R              transactions per second in the latency runs (default 10,000)
  --seconds S           transactions of each latency run, in seconds at --rate (default 30)
  --warmup-s S          latency: alerts of the first S seconds are not measured (default 5)
  --commit-intervals L  latency: exactly-once commit intervals in ms (default 100,25; 100 is the default)
  --phases LIST         throughput,latency (default both)
  --dir DIR             where the latency runs' logs and state go (default: the OS temp dir)
  --settle CORES        before each run, wait (up to 60 s) until other processes keep fewer than CORES cores busy
  --profile-dir DIR     run the children with --cpu-prof into DIR
  --timeout-s S         bound on each child process (default 900)
  --json FILE           also write every run's result as JSON
`

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    accounts: { type: 'string', default: '100000' },
    events: { type: 'string' },
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string' },
    'warmup-s': { type: 'string' },
    'commit-intervals': { type: 'string', default: '100,25' },
    phases: { type: 'string', default: 'throughput,latency' },
    dir: { type: 'string' },
    settle: { type: 'string' },
    'profile-dir': { type: 'string' },
    'timeout-s': { type: 'string', default: '900' },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  process.stdout.write(HELP)
  process.exit(0)
}

/** The issue's targets. */
const TARGET_PER_CPU_SECOND = 500_000
const TARGET_P99_MS = 100
const TARGET_ACCOUNTS = 100_000

const quick = values.quick
const reps = Number(values.reps ?? (quick ? 1 : 3))
const accounts = Number(values.accounts)
const events = Number(values.events ?? (quick ? 500_000 : 2_000_000))
const rate = Number(values.rate)
const seconds = Number(values.seconds ?? (quick ? 10 : 30))
const warmup = Number(values['warmup-s'] ?? (quick ? 3 : 5))
const intervals = values['commit-intervals'].split(',').map(Number)
const phases = values.phases.split(',')
const timeoutMs = Number(values['timeout-s']) * 1000
const base = resolve(values.dir ?? tmpdir())
const root = mkdtempSync(join(base, 'sluice-bench-fraud-'))
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
async function child(
  script: string,
  args: string[],
  name: string,
  nodeArgs: string[] = [],
): Promise<Message> {
  if (values.settle !== undefined) await waitForQuiet(Number(values.settle), 60_000)
  const profile = values['profile-dir']
  const prof =
    profile === undefined
      ? []
      : ['--cpu-prof', `--cpu-prof-dir=${profile}`, `--cpu-prof-name=${name}-${++runs}.cpuprofile`]
  current = new WorkerProcess(resolve(import.meta.dirname, script), args, {
    nodeArgs: [...nodeArgs, ...prof],
    timeoutMs,
  })
  try {
    const result = await current.next('result')
    await current.exited()
    return result
  } finally {
    await current.kill()
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const ms = (n: number | null) => (n === null ? '–' : fmt(n))
const throughputs: Message[] = []
const latencies = new Map<number, Message[]>(intervals.map((i) => [i, []]))
try {
  if (phases.includes('throughput')) {
    for (let rep = 0; rep < reps; rep++) {
      const r = await child(
        'fraud/throughput.ts',
        ['--accounts', String(accounts), '--events', String(events)],
        'throughput',
        ['--expose-gc'],
      )
      throughputs.push(r)
      log(
        `throughput #${rep + 1}: ${fmt((r.events as number) / (r.cpuSeconds as number))} transactions/CPU-s, ` +
          `${fmt((r.events as number) / (r.seconds as number))}/s wall, ${fmt(r.heapBytesPerAccount as number)} B/account, ` +
          `alerts ${r.expectedFound}/${r.expectedAlerts}, others ${(r.others as number).toFixed(2)}`,
      )
    }
  }
  if (phases.includes('latency')) {
    for (let rep = 0; rep < reps; rep++) {
      // alternate: each repetition starts with the next interval
      for (let i = 0; i < intervals.length; i++) {
        const interval = intervals[(rep + i) % intervals.length]
        const dir = join(root, `latency-${rep}-${interval}`)
        try {
          const r = await child(
            'fraud/latency.ts',
            [
              ...['--data-dir', join(dir, 'log'), '--state-dir', join(dir, 'state')],
              ...['--rate', String(rate), '--seconds', String(seconds), '--warmup-s', String(warmup)],
              ...['--accounts', String(accounts), '--commit-interval', String(interval)],
              ...['--timeout-s', values['timeout-s']],
            ],
            `latency-${interval}`,
          )
          latencies.get(interval)!.push(r)
          const e = r.engine as Percentiles
          log(
            `latency #${rep + 1}, commit every ${interval} ms: engine p50 ${ms(e.p50)} p99 ${ms(e.p99)} ms ` +
              `(${e.n} alerts), pattern alerts from their transaction p50 ${ms((r.totalPattern as Percentiles).p50)} ms, ` +
              `behind ${fmt((r.produced as number) - (r.committed as number))} transactions at the end, ` +
              `others ${(r.others as number).toFixed(2)}`,
          )
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      }
    }
  }
} finally {
  cleanup()
}

interface Percentiles {
  n: number
  p50: number | null
  p90: number | null
  p99: number | null
  max: number | null
}

const machine = describeMachine(base)
let commit = 'unknown'
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
} catch {}
const out: string[] = [
  `Machine: ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Linux ${machine.kernel}; ` +
    `Node ${machine.node}; ${machine.date.slice(0, 10)}; commit ${commit}. ${reps} repetition${reps === 1 ? '' : 's'}, medians` +
    `${values.settle === undefined ? '' : `; each run waited up to 60 s for other processes to use < ${values.settle} cores`}.`,
  '',
]
if (throughputs.length > 0) {
  const perCpu = median(throughputs.map((r) => (r.events as number) / (r.cpuSeconds as number)))
  const perWall = median(throughputs.map((r) => (r.events as number) / (r.seconds as number)))
  const bytes = median(throughputs.map((r) => r.heapBytesPerAccount as number))
  const first = throughputs[0]
  const entries = first.entries as Record<string, number>
  out.push(
    `Throughput: ${fmt(first.events as number)} transactions of ${fmt(first.accounts as number)} accounts, Avro, ` +
      'through the pipeline of apps/fraud/pipeline.ts (its subject serdes bound to a registry) under the test driver, ' +
      'one task, memory state, made before the clock starts.',
    '',
    '| transactions/CPU-s | target (1 core) | met | transactions/s (wall) | heap bytes per active account | accounts with state: profile, impossible-travel, card-testing, big-three | alerts (of the ground truth) | others busy (cores) |',
    '|--:|--:|---|--:|--:|--:|--:|--:|',
    `| ${fmt(perCpu)} | ${fmt(TARGET_PER_CPU_SECOND)} | ${perCpu >= TARGET_PER_CPU_SECOND && (first.accounts as number) >= TARGET_ACCOUNTS ? 'yes' : 'no'} ` +
      `| ${fmt(perWall)} | ${fmt(bytes)} | ${fmt(entries.profile)}, ${fmt(entries['impossible-travel'])}, ` +
      `${fmt(entries['card-testing'])}, ${fmt(entries['big-three'])} | ${first.expectedFound} of ${first.expectedAlerts} ` +
      `(${first.alerts} in all) | ${throughputs.map((r) => (r.others as number).toFixed(2)).join(', ')} |`,
    '',
  )
}
if ([...latencies.values()].some((l) => l.length > 0)) {
  out.push(
    `Latency: ${fmt(rate)} transactions/s for ${seconds} s (alerts of the first ${warmup} s not measured), then clean ` +
      'ones until every watermark has passed the end, through the runner on the embedded log under exactly-once, 4 ' +
      'partitions; a read_committed reader in the same process. "engine": from the append of the transaction that ' +
      'let the alert out (for a pattern, the first of its partition 5 s past the match, which moved the watermark ' +
      'past it; for the profile rule, the transaction itself) to the alert in the reader. "from the transaction": ' +
      "from the append of the alert's own last transaction, the pattern's 5 s of out-of-orderness included. " +
      'Per-run percentiles, medians of the runs.',
    '',
    '| commit interval | runs | alerts measured | engine p50 (ms) | p90 | p99 | max | target p99 | met | pattern alerts from the transaction p50 / p99 (ms) | profile alerts p50 / p99 (ms) | transactions behind at the end | CPU of the process | others busy (cores) |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|',
  )
  for (const [interval, list] of latencies) {
    if (list.length === 0) continue
    const med = (f: (m: Message) => number | null) => {
      const xs = list.map(f).filter((x): x is number => x !== null)
      return xs.length === 0 ? null : median(xs)
    }
    const p = (key: string, q: keyof Percentiles) => med((m) => (m[key] as Percentiles)[q])
    const p99 = p('engine', 'p99')
    out.push(
      `| ${interval} ms${interval === 100 ? ' (default)' : ''} | ${list.length} | ${ms(p('engine', 'n'))} | ${ms(p('engine', 'p50'))} ` +
        `| ${ms(p('engine', 'p90'))} | ${ms(p99)} | ${ms(p('engine', 'max'))} | ${TARGET_P99_MS} | ` +
        `${p99 !== null && p99 < TARGET_P99_MS ? 'yes' : 'no'} | ${ms(p('totalPattern', 'p50'))} / ${ms(p('totalPattern', 'p99'))} ` +
        `| ${ms(p('totalProfile', 'p50'))} / ${ms(p('totalProfile', 'p99'))} ` +
        `| ${fmt(med((m) => (m.produced as number) - (m.committed as number)) ?? 0)} ` +
        `| ${(med((m) => m.cpu as number) ?? 0).toFixed(2)} | ${list.map((m) => (m.others as number).toFixed(2)).join(', ')} |`,
    )
  }
  out.push('')
}
process.stdout.write(`${out.join('\n')}\n`)
if (values.json !== undefined) {
  writeFileSync(
    values.json,
    `${JSON.stringify({ machine, commit, throughputs, latencies: Object.fromEntries(latencies) }, null, 2)}\n`,
  )
}
