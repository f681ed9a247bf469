// The Nexmark benchmark of the dataflow engine: each query runs in-process on the generator's events (generator →
// query → discard) under the test driver, on the memory backend, for a fixed number of events, several times.
// Reports medians of events/s (wall), events per CPU-second of the process (the machine is shared, so this is the
// per-core figure), and the same with the generator's own CPU time taken out; then memory per key of window state.
// Run with `npm run bench:nexmark -- [--quick] [--reps N] ...`; see --help.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { pipeline } from '../../src/index.ts'
import { TestDriver } from '../../src/testing/index.ts'
import { Meter, waitForQuiet } from '../log/meter.ts'
import { describeMachine, median } from '../log/report.ts'
import { NexmarkGenerator, recordsOf } from './generator.ts'
import { QUERIES } from './queries/index.ts'
import type { StateMemory } from './state-memory.ts'

const HELP = `usage: node bench/nexmark/run.ts [options]
  --quick            one repetition of 500,000 events (q0-q2) or 200,000 (the others): a smoke run
  --reps N           repetitions; medians are reported (default 3)
  --events N         events per run of every query (default 5,000,000 for q0-q2, 2,000,000 for the others)
  --queries LIST     q0,q1,q2,q3,q4,q5,q7,q8 (default all)
  --rate R           events per second of event time (default 10,000: 2,000,000 events are 200 s)
  --settle CORES     before each run, wait (up to 60 s) until other processes use fewer than CORES cores
  --keys N           keys of the window-state memory measurement (default 1,000,000; 0 skips it)
  --json FILE        also write the raw results as JSON
`

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    events: { type: 'string' },
    queries: { type: 'string', default: Object.keys(QUERIES).join(',') },
    rate: { type: 'string', default: '10000' },
    settle: { type: 'string' },
    keys: { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  process.stdout.write(HELP)
  process.exit(0)
}

/** Flink's published nexmark-flink results as events/s per core (its throughput over the cores it used). */
const FLINK: Record<string, number | null> = {
  q0: 155_000,
  q1: 158_000,
  q2: 175_000,
  q3: null,
  q4: 34_000,
  q5: 22_100,
  q7: 12_300,
  q8: 146_000,
}
const TARGET: Record<string, number> = {
  q0: 3e6,
  q1: 3e6,
  q2: 3e6,
  q3: 1e6,
  q4: 1e6,
  q5: 1e6,
  q7: 1e6,
  q8: 1e6,
}

const quick = values.quick
const reps = values.reps === undefined ? (quick ? 1 : 3) : Number(values.reps)
const rate = Number(values.rate)
const names = values.queries.split(',')
for (const n of names) if (QUERIES[n] === undefined) throw new Error(`no query ${n}`)
const eventsFor = (q: string): number =>
  values.events !== undefined
    ? Number(values.events)
    : ['q0', 'q1', 'q2'].includes(q)
      ? quick
        ? 500_000
        : 5_000_000
      : quick
        ? 200_000
        : 2_000_000
const keys = values.keys === undefined ? (quick ? 100_000 : 1_000_000) : Number(values.keys)

interface Run {
  events: number
  seconds: number
  cpuSeconds: number
  generatorCpuSeconds: number
  others: number
  results: number
}

async function runOnce(query: string, events: number): Promise<Run> {
  const gen = new NexmarkGenerator({ maxEvents: events, eventsPerSecond: rate }, { timed: true })
  const p = pipeline(`nexmark-${query}`)
  let results = 0
  QUERIES[query](p.fromRecords('events', () => recordsOf(gen))).forEach(() => {
    results++
  })
  const driver = new TestDriver(p)
  ;(globalThis as { gc?: () => void }).gc?.()
  const meter = new Meter()
  driver.start()
  const phase = meter.phase(events, 0)
  await driver.close()
  return {
    events,
    seconds: phase.seconds,
    cpuSeconds: phase.cpu * phase.seconds,
    generatorCpuSeconds: gen.spent.cpuUs / 1e6,
    others: phase.others,
    results,
  }
}

/** The generator alone, for the same number of events: what every query pays before doing anything. */
function generatorOnly(events: number): Run {
  const gen = new NexmarkGenerator({ maxEvents: events, eventsPerSecond: rate })
  const meter = new Meter()
  let n = 0
  while (gen.hasNext()) n += gen.next().dateTime > 0 ? 1 : 0
  const phase = meter.phase(events, 0)
  return {
    events,
    seconds: phase.seconds,
    cpuSeconds: phase.cpu * phase.seconds,
    generatorCpuSeconds: phase.cpu * phase.seconds,
    others: phase.others,
    results: n,
  }
}

interface Summary {
  query: string
  events: number
  perSec: number
  perCpuSec: number
  queryOnlyPerCpuSec: number
  others: number
  results: number
}

function summarize(query: string, runs: Run[]): Summary {
  return {
    query,
    events: runs[0].events,
    perSec: median(runs.map((r) => r.events / r.seconds)),
    perCpuSec: median(runs.map((r) => r.events / r.cpuSeconds)),
    queryOnlyPerCpuSec: median(
      runs.map((r) => r.events / Math.max(1e-9, r.cpuSeconds - r.generatorCpuSeconds)),
    ),
    others: median(runs.map((r) => r.others)),
    results: runs[0].results,
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const summaries: Summary[] = []
const log = (s: string) => process.stderr.write(`${s}\n`)

for (const rep of ['generator', ...names]) {
  const runs: Run[] = []
  const events = rep === 'generator' ? eventsFor('q0') : eventsFor(rep)
  for (let i = 0; i < reps; i++) {
    if (values.settle !== undefined) await waitForQuiet(Number(values.settle), 60_000)
    const r = rep === 'generator' ? generatorOnly(events) : await runOnce(rep, events)
    log(
      `${rep} #${i + 1}: ${fmt(r.events / r.seconds)} events/s, ${fmt(r.events / r.cpuSeconds)} events/CPU-s, ` +
        `${r.results} results, others busy ${r.others.toFixed(2)} cores`,
    )
    runs.push(r)
  }
  summaries.push(summarize(rep, runs))
}

const memory: StateMemory[] = []
if (keys > 0) {
  const script = fileURLToPath(new URL('./state-memory.ts', import.meta.url))
  for (const backend of ['memory', 'lmdb']) {
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', script, '--backend', backend, '--keys', String(keys)],
      {
        encoding: 'utf8',
      },
    )
    memory.push(JSON.parse(out.trim().split('\n').pop()!) as StateMemory)
    log(`state memory (${backend}): ${out.trim()}`)
  }
}

const machine = describeMachine(tmpdir())
const lines = [
  `Machine: ${machine.cpuModel}, ${machine.cpus} cores, ${machine.memoryGiB} GiB, Linux ${machine.kernel}; Node ${machine.node}; ${machine.date.slice(0, 10)}.`,
  `Events at ${fmt(rate)} events/s of event time; ${reps} repetition${reps === 1 ? '' : 's'}, medians. ` +
    '"met" compares events/CPU-s (generator included) with the target; "others busy" is the cores other processes used.',
  '',
  '| query | events | events/s (wall) | events/CPU-s | engine alone (est.) | results | Flink events/s/core | × Flink | target (1 core) | met | others busy |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
]
for (const s of summaries) {
  if (s.query === 'generator') {
    lines.push(
      `| generator alone | ${fmt(s.events)} | ${fmt(s.perSec)} | ${fmt(s.perCpuSec)} | | | | | | | ${s.others.toFixed(2)} |`,
    )
    continue
  }
  const flink = FLINK[s.query]
  lines.push(
    `| ${s.query} | ${fmt(s.events)} | ${fmt(s.perSec)} | ${fmt(s.perCpuSec)} | ${fmt(s.queryOnlyPerCpuSec)} | ${fmt(s.results)} | ` +
      `${flink === null ? '–' : fmt(flink)} | ${flink === null ? '–' : `${(s.perCpuSec / flink).toFixed(1)}×`} | ` +
      `${fmt(TARGET[s.query])} | ${s.perCpuSec >= TARGET[s.query] ? 'yes' : 'no'} | ${s.others.toFixed(2)} |`,
  )
}
if (memory.length > 0) {
  lines.push(
    '',
    '| window state, tumbling count | keys | heap bytes/key | disk bytes/key |',
    '|---|---:|---:|---:|',
  )
  for (const m of memory) {
    lines.push(
      `| ${m.backend} | ${fmt(m.keys)} | ${m.heapBytesPerKey.toFixed(0)} | ${m.diskBytesPerKey === null ? '–' : m.diskBytesPerKey.toFixed(0)} |`,
    )
  }
}
process.stdout.write(`${lines.join('\n')}\n`)
if (values.json !== undefined) {
  writeFileSync(values.json, `${JSON.stringify({ machine, rate, reps, summaries, memory }, null, 2)}\n`)
}
