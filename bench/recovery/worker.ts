// The child process of bench/recovery.ts. `build` appends one record per key and runs the pipeline until all of
// it is committed; `restart` is the process that comes back after a kill -9: it appends a few records for existing
// keys, runs the pipeline again (restoring its state) and reports, in its own clock (ms since the process started,
// performance.timeOrigin), when the log was open, when the restore was done, when the first record was processed
// and when the first commit after the restart landed. It then waits to be killed; every wait is bounded.
import { parseArgs } from 'node:util'
import { type Log, openEmbeddedLog } from '../../src/log/index.ts'
import {
  type RestoreProgress,
  type RunningPipeline,
  restoreChannel,
  runPipeline,
} from '../../src/runtime/runner.ts'
import { lmdbState } from '../../src/state/backends/lmdb.ts'
import { Meter } from '../log/meter.ts'
import { INPUT_TOPIC, keyedCountPipeline, keyOf } from './pipeline.ts'

const loadedAt = performance.now()
const meter = new Meter()

const { values } = parseArgs({
  options: {
    mode: { type: 'string' },
    'data-dir': { type: 'string' },
    'state-dir': { type: 'string' },
    keys: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '4' },
    fresh: { type: 'string', default: '1000' },
    'timeout-s': { type: 'string', default: '600' },
    // for --cpu-prof, which writes its profile on exit and not on SIGKILL
    'exit-when-ready': { type: 'boolean', default: false },
  },
})
const keys = Number(values.keys)
const partitions = Number(values.partitions)
const fresh = Number(values.fresh)
const timeoutMs = Number(values['timeout-s']) * 1000

/** One JSON line per event on stdout, for the parent. */
const report = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`)

// Never outlive the benchmark: the parent kills this process, and if it does not, the process ends itself.
setTimeout(() => {
  report('error', { message: `worker timed out after ${timeoutMs} ms` })
  process.exit(2)
}, timeoutMs).unref()

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A pipeline that fails ends the worker at once, rather than leaving it waiting for commits until the timeout. */
function failFast(run: RunningPipeline): RunningPipeline {
  run.done.catch((err: unknown) => {
    report('error', { message: `the pipeline failed: ${(err as Error).stack ?? String(err)}` })
    process.exit(1)
  })
  return run
}

async function until(what: string, check: () => boolean | Promise<boolean>, everyMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}

async function inputEnd(log: Log): Promise<number> {
  let sum = 0
  for (let p = 0; p < partitions; p++) sum += await log.admin().listOffsets(INPUT_TOPIC, p, 'latest')
  return sum
}

async function append(log: Log, count: number, key: (i: number) => string): Promise<void> {
  const producer = log.producer()
  const batch = 10_000
  for (let from = 0; from < count; from += batch) {
    const records = []
    for (let i = from; i < Math.min(count, from + batch); i++) {
      records.push({
        topic: INPUT_TOPIC,
        key: Buffer.from(JSON.stringify(key(i))),
        value: Buffer.from(JSON.stringify({ n: i })),
      })
    }
    await producer.send(records)
  }
  await producer.close()
}

function committedInput(offsets: Map<string, number>): number {
  let sum = 0
  for (const [tp, offset] of offsets) if (tp.startsWith(`${INPUT_TOPIC}:`)) sum += offset
  return sum
}

async function build(): Promise<void> {
  const log = await openEmbeddedLog({ dataDir: values['data-dir'] })
  await log.admin().createTopic(INPUT_TOPIC, { partitions })
  const t0 = performance.now()
  await append(log, keys, keyOf)
  const appendedAt = performance.now()
  report('appended', { records: keys, ms: appendedAt - t0 })
  const cpu0 = process.cpuUsage()
  const run = failFast(
    await runPipeline(
      keyedCountPipeline(() => {}),
      { log, state: lmdbState(), stateDir: values['state-dir'] },
    ),
  )
  await until('the build to be committed', () => committedInput(run.committedOffsets()) >= keys, 50)
  const cpu = process.cpuUsage(cpu0)
  const ms = performance.now() - appendedAt
  // The commit's lmdb flush runs synchronously right after the offsets are committed, so a timer that fires a
  // second later fires after it.
  await sleep(1000)
  report('ready', { records: keys, ms, cpuMs: (cpu.user + cpu.system) / 1000 })
  await sleep(timeoutMs)
}

async function restart(): Promise<void> {
  const marks: Record<string, number> = { loaded: loadedAt }
  const restores = new Map<string, RestoreProgress>()
  let restoreStart: number | undefined
  let restoreDone: number | undefined
  const onRestore = (message: unknown) => {
    const p = message as RestoreProgress
    restoreStart ??= performance.now()
    restores.set(`${p.task}/${p.store}`, { ...p })
    if (p.done && restores.size === partitions && [...restores.values()].every((r) => r.done))
      restoreDone = performance.now()
  }
  restoreChannel.subscribe(onRestore)

  const log = await openEmbeddedLog({ dataDir: values['data-dir'] })
  marks.logOpen = performance.now()
  const before = await inputEnd(log)
  await append(log, fresh, (i) => keyOf((i * 7919) % keys))
  marks.appended = performance.now()

  let firstRecord: number | undefined
  let cpuAtFirstRecord: NodeJS.CpuUsage | undefined
  const run = failFast(
    await runPipeline(
      keyedCountPipeline(() => {
        if (firstRecord !== undefined) return
        firstRecord = performance.now()
        cpuAtFirstRecord = process.cpuUsage() // since the process started, all threads
      }),
      { log, state: lmdbState(), stateDir: values['state-dir'] },
    ),
  )
  marks.runStarted = performance.now()
  // 1 ms polls: the commit marks are that much late at most (more while the loop is busy, which is the point)
  await until('a first commit after the restart', () => committedInput(run.committedOffsets()) > before, 1)
  marks.firstCommit = performance.now()
  await until(
    'the fresh records to be committed',
    () => committedInput(run.committedOffsets()) >= before + fresh,
    5,
  )
  marks.allCommitted = performance.now()
  const { others } = meter.phase(0, 0)
  restoreChannel.unsubscribe(onRestore)
  marks.restoreStart = restoreStart ?? Number.NaN
  marks.restoreDone = restoreDone ?? Number.NaN
  marks.firstRecord = firstRecord ?? Number.NaN
  const list = [...restores.values()]
  report('resumed', {
    timeOrigin: performance.timeOrigin,
    bootstrapMs: performance.nodeTiming.bootstrapComplete,
    marks,
    cpuFirstRecordMs:
      cpuAtFirstRecord === undefined ? Number.NaN : (cpuAtFirstRecord.user + cpuAtFirstRecord.system) / 1000,
    restoredRecords: list.reduce((n, r) => n + r.records, 0),
    fromLocalSnapshot: list.map((r) => r.fromLocalSnapshot),
    stores: list.length,
    others,
  })
  await sleep(1000) // the first commit's lmdb flush is done (see build)
  report('ready')
  if (values['exit-when-ready']) process.exit(0)
  await sleep(timeoutMs)
}

try {
  if (values.mode === 'build') await build()
  else if (values.mode === 'restart') await restart()
  else throw new Error(`unknown --mode ${values.mode}`)
} catch (err) {
  report('error', { message: (err as Error).stack ?? String(err) })
  process.exit(1)
}
