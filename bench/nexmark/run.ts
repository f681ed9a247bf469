// The Nexmark benchmark of the dataflow engine: each query runs in-process under the test driver, on the memory
// backend, several times, in two modes: with the generator in the loop (generator → query → discard), and on events
// generated before the clock starts (the engine alone). Reports medians of events per CPU-second of the process (the
// machine is shared, so this is the per-core figure) and events/s of wall time; then memory per key of window
// state. Run with `npm run bench:nexmark -- [--quick] [--reps N] ...`; see --help.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { pipeline, type Rec } from '../../src/index.ts'
import { TestDriver } from '../../src/testing/index.ts'
import { Meter, waitForQuiet } from '../log/meter.ts'
import { describeMachine, median } from '../log/report.ts'
import { NexmarkGenerator, recordsOf } from './generator.ts'
import type { NexmarkEvent } from './model.ts'
import { QUERIES } from './queries/index.ts'
import type { StateMemory } from './state-memory.ts'

const HELP = `usage: node bench/nexmark/run.ts [options]
  --quick            one repetition of 500,000 events (q0-q2) or 200,000 (the others): a smoke run
  --reps N           repetitions; medians are reported (default 3)
  --events N         events per run of every query (default 5,000,000 for q0-q2, 2,000,000 for the others)
  --pre-events N     events per run on pre-generated events (default 2,000,000; they are all in memory, ~300 B each)
  --modes LIST       generated,pregenerated (default both)
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
    'pre-events': { type: 'string' },
    modes: { type: 'string', default: 'generated,pregenerated' },
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
type Mode = 'generated' | 'pregenerated'
const modes = values.modes.split(',') as Mode[]
for (const m of modes) if (m !== 'generated' && m !== 'pregenerated') throw new Error(`no mode ${m}`)
const eventsFor = (q: string, mode: Mode): number =>
  mode === 'pregenerated'
    ? Number(values['pre-events'] ?? values.events ?? (quick ? 200_000 : 2_000_000))
    : values.events !== undefined
      ? Number(values.events)
      : ['q0', 'q1', 'q2'].includes(q)
        ? quick
          ? 500_000
          : 5_000_000
        : quick
          ? 200_000
          : 2_000_000
const keys = values.keys === undefined ? (quick ? 100_000 : 1_000_000) : Number(values.keys)
// a full collection before each timed run, so that none of the garbage of setting it up is collected on its time
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

interface Run {
  events: number
  seconds: number
  cpuSeconds: number
  others: number
  results: number
}

/**
 * The query's source: with the generator in the loop, events as it makes them; pre-generated, all of them made
 * before, each handed over once and then let go, so that the heap shrinks as the run goes.
 */
function sourceOf(gen: NexmarkGenerator, mode: Mode): Iterable<Rec<null, NexmarkEvent>> {
  if (mode === 'generated') return recordsOf(gen)
  const events: (Rec<null, NexmarkEvent> | undefined)[] = [...recordsOf(gen)]
  return {
    [Symbol.iterator]() {
      let i = 0
      const result = { done: false, value: undefined as unknown as Rec<null, NexmarkEvent> }
      return {
        next() {
          if (i === events.length) {
            result.done = true
            return result
          }
          result.value = events[i]!
          events[i++] = undefined
          return result
        },
      }
    },
  }
}

async function runOnce(query: string, events: number, mode: Mode): Promise<Run> {
  const gen = new NexmarkGenerator({ maxEvents: events, eventsPerSecond: rate })
  const source = sourceOf(gen, mode)
  const p = pipeline(`nexmark-${query}`)
  let results = 0
  QUERIES[query](p.fromRecords('events', () => source)).forEach(() => {
    results++
  })
  const driver = new TestDriver(p)
  gc()
  const meter = new Meter()
  driver.start()
  const phase = meter.phase(events, 0)
  await driver.close()
  return {
    events,
    seconds: phase.seconds,
    cpuSeconds: phase.cpu * phase.seconds,
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
    others: phase.others,
    results: n,
  }
}

interface Summary {
  query: string
  mode: Mode
  events: number
  perSec: number
  perCpuSec: number
  others: number
  results: number
}

function summarize(query: string, mode: Mode, runs: Run[]): Summary {
  return {
    query,
    mode,
    events: runs[0].events,
    perSec: median(runs.map((r) => r.events / r.seconds)),
    perCpuSec: median(runs.map((r) => r.events / r.cpuSeconds)),
    others: median(runs.map((r) => r.others)),
    results: runs[0].results,
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const summaries: Summary[] = []
const log = (s: string) => process.stderr.write(`${s}\n`)

const plan: [string, Mode][] = [['generator', 'generated']]
for (const q of names) for (const m of modes) plan.push([q, m])
for (const [rep, mode] of plan) {
  const runs: Run[] = []
  const events = rep === 'generator' ? eventsFor('q0', mode) : eventsFor(rep, mode)
  for (let i = 0; i < reps; i++) {
    if (values.settle !== undefined) await waitForQuiet(Number(values.settle), 60_000)
    const r = rep === 'generator' ? generatorOnly(events) : await runOnce(rep, events, mode)
    log(
      `${rep} ${mode} #${i + 1}: ${fmt(r.events / r.seconds)} events/s, ${fmt(r.events / r.cpuSeconds)} events/CPU-s, ` +
        `${r.results} results, others busy ${r.others.toFixed(2)} cores`,
    )
    runs.push(r)
  }
  summaries.push(summarize(rep, mode, runs))
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
const find = (q: string, m: Mode) => summaries.find((s) => s.query === q && s.mode === m)
const cell = (s: Summary | undefined, f: (s: Summary) => string) => (s === undefined ? '–' : f(s))
const met = (s: Summary | undefined, target: number) => cell(s, (x) => (x.perCpuSec >= target ? 'yes' : 'no'))
const generator = find('generator', 'generated')!
const lines = [
  `Machine: ${machine.cpuModel}, ${machine.cpus} cores, ${machine.memoryGiB} GiB, Linux ${machine.kernel}; Node ${machine.node}; ${machine.date.slice(0, 10)}.`,
  `Events at ${fmt(rate)} events/s of event time; ${reps} repetition${reps === 1 ? '' : 's'}, medians. ` +
    `Pre-generated: ${fmt(eventsFor('q0', 'pregenerated'))} events made before the clock starts; generator in the loop: ` +
    `${fmt(eventsFor('q0', 'generated'))} events for q0-q2 and ${fmt(eventsFor('q3', 'generated'))} for the others; ` +
    `the generator alone makes ${fmt(generator.perCpuSec)} events/CPU-s. "others busy" is the cores other processes used.`,
  '',
  '| query | target (1 core) | events/CPU-s, pre-generated | met | events/CPU-s, generator in the loop | met | events/s (wall), generator in the loop | results | Flink events/s/core | × Flink | others busy |',
  '|---|---:|---:|---|---:|---|---:|---:|---:|---:|---:|',
]
for (const q of names) {
  const pre = find(q, 'pregenerated')
  const gen = find(q, 'generated')
  const flink = FLINK[q]
  const others = [pre, gen].filter((s) => s !== undefined).map((s) => s.others.toFixed(2))
  lines.push(
    `| ${q} | ${fmt(TARGET[q])} | ${cell(pre, (s) => fmt(s.perCpuSec))} | ${met(pre, TARGET[q])} | ` +
      `${cell(gen, (s) => fmt(s.perCpuSec))} | ${met(gen, TARGET[q])} | ${cell(gen, (s) => fmt(s.perSec))} | ` +
      `${fmt((gen ?? pre)!.results)} | ${flink === null ? '–' : fmt(flink)} | ` +
      `${flink === null || gen === undefined ? '–' : `${(gen.perCpuSec / flink).toFixed(1)}×`} | ${others.join(', ')} |`,
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
