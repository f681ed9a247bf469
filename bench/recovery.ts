// Recovery after kill -9: a child process builds --keys keys of lmdb state with a keyed process step and commits
// it, is killed with SIGKILL, and is restarted, once with its local lmdb state as that kill left it (restore from
// the snapshot plus the changelog tail after the last flush) and once with the local state directory deleted
// (restore from the changelog alone).
// Each restart reports, from its own start, when processing resumed. Run with
// `npm run bench:recovery -- [--keys N] [--reps N] [--partitions N] [--dir DIR] [--profile-dir DIR]`.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { waitForQuiet } from './log/meter.ts'
import { describeMachine, median } from './log/report.ts'
import { type Message, WorkerProcess } from './worker-process.ts'

const HELP = `usage: node bench/recovery.ts [options]
  --keys N          keys of state built before the kill (default 1000000)
  --partitions N    partitions of the input topic, so tasks and lmdb files (default 4)
  --fresh N         records appended for existing keys before each restart (default 1000)
  --reps N          restarts of each kind; medians are reported (default 3)
  --dir DIR         where the log and the state go (default: the OS temp dir)
  --profile-dir DIR restarts run with --cpu-prof into DIR and exit by themselves once resumed
  --settle C        before each restart, wait (up to 60 s) until other processes keep fewer than C cores busy
  --timeout-s S     bound on each child process (default 600)
`

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '4' },
    fresh: { type: 'string', default: '1000' },
    reps: { type: 'string', default: '3' },
    dir: { type: 'string' },
    'profile-dir': { type: 'string' },
    settle: { type: 'string' },
    'timeout-s': { type: 'string', default: '600' },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  process.stdout.write(HELP)
  process.exit(0)
}

const reps = Number(values.reps)
const timeoutMs = Number(values['timeout-s']) * 1000
const worker = resolve(import.meta.dirname, 'recovery/worker.ts')
const root = mkdtempSync(join(resolve(values.dir ?? tmpdir()), 'sluice-recovery-'))
const dataDir = join(root, 'log')
const stateDir = join(root, 'state')
/**
 * The local state as the build's kill left it: flushed a few seconds or up to 50,000 changelog records per task
 * before the kill (the runner's defaults). Each restart with local state starts from a copy of it, so that each
 * replays that tail (and the records of the restarts before it): a restart's own first commit flushes what its
 * restore replayed, and would leave the next one nothing to replay.
 */
const builtStateDir = join(root, 'state-built')
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

const common = [
  '--data-dir',
  dataDir,
  '--state-dir',
  stateDir,
  '--keys',
  values.keys,
  '--partitions',
  values.partitions,
  '--fresh',
  values.fresh,
  '--timeout-s',
  values['timeout-s'],
]

type Kind = 'local snapshot' | 'changelog only'
interface Restart {
  kind: Kind
  restored: number
  fromLocalSnapshot: boolean
  /** ms since the child's own start (performance.timeOrigin): node started and the worker's modules loaded. */
  loaded: number
  logOpen: number
  restoreMs: number
  restoreDone: number
  firstRecord: number
  /** CPU time (all threads) the process had used by then: what the restart costs on an idle core. */
  cpuFirstRecord: number
  firstCommit: number
  /** ms since spawn() in this process: node startup and module loading included. */
  wallFirstRecord: number
  wallFirstCommit: number
  /** Cores other processes kept busy from the restart's start to its commit of the fresh records. */
  others: number
}

async function restart(kind: Kind, rep: number): Promise<Restart> {
  rmSync(stateDir, { recursive: true, force: true })
  if (kind === 'local snapshot') cpSync(builtStateDir, stateDir, { recursive: true })
  if (values.settle !== undefined) await waitForQuiet(Number(values.settle), 60_000)
  const profile = values['profile-dir']
  const nodeArgs =
    profile === undefined
      ? []
      : [
          '--cpu-prof',
          `--cpu-prof-dir=${profile}`,
          `--cpu-prof-name=${kind.replace(' ', '-')}-${rep}.cpuprofile`,
        ]
  const args = ['--mode', 'restart', ...common, ...(profile === undefined ? [] : ['--exit-when-ready'])]
  const w = (current = new WorkerProcess(worker, args, { nodeArgs, timeoutMs }))
  const m = await w.next('resumed')
  await w.next('ready')
  if (profile === undefined) await w.kill()
  else await w.exited()
  const marks = m.marks as Record<string, number>
  const origin = m.timeOrigin as number
  const r: Restart = {
    kind,
    restored: m.restoredRecords as number,
    fromLocalSnapshot: (m.fromLocalSnapshot as boolean[]).every((x) => x),
    loaded: marks.loaded,
    logOpen: marks.logOpen,
    restoreMs: marks.restoreDone - marks.restoreStart,
    restoreDone: marks.restoreDone,
    firstRecord: marks.firstRecord,
    cpuFirstRecord: m.cpuFirstRecordMs as number,
    firstCommit: marks.firstCommit,
    wallFirstRecord: origin + marks.firstRecord - w.spawnedAt,
    wallFirstCommit: origin + marks.firstCommit - w.spawnedAt,
    others: m.others as number,
  }
  log(
    `rep ${rep}, ${kind}: ${r.restored} records restored in ${r.restoreMs.toFixed(0)} ms ` +
      `(local snapshot: ${r.fromLocalSnapshot}); first record at ${r.firstRecord.toFixed(0)} ms ` +
      `(${r.cpuFirstRecord.toFixed(0)} ms CPU), ` +
      `first commit at ${r.firstCommit.toFixed(0)} ms from process start; ` +
      `${r.wallFirstRecord.toFixed(0)} / ${r.wallFirstCommit.toFixed(0)} ms from spawn; others ${r.others.toFixed(2)} cores`,
  )
  return r
}

const machine = describeMachine(values.dir ?? root)
const results: Restart[] = []
let built: Message
try {
  mkdirSync(values['profile-dir'] ?? root, { recursive: true })
  log(`building ${values.keys} keys in ${root}`)
  current = new WorkerProcess(worker, ['--mode', 'build', ...common], { timeoutMs })
  const appended = await current.next('appended')
  built = await current.next('ready')
  log(
    `built: appended in ${(appended.ms as number).toFixed(0)} ms, processed and committed in ${(built.ms as number).toFixed(0)} ms`,
  )
  await current.kill()
  cpSync(stateDir, builtStateDir, { recursive: true })
  for (let rep = 1; rep <= reps; rep++) {
    results.push(await restart('local snapshot', rep))
    results.push(await restart('changelog only', rep))
  }
} finally {
  cleanup()
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const rows = (['local snapshot', 'changelog only'] as Kind[]).map((kind) => {
  const rs = results.filter((r) => r.kind === kind)
  const med = (f: (r: Restart) => number) => median(rs.map(f))
  const rate = med((r) =>
    r.restored > 0 && r.restoreMs > 0 ? r.restored / (r.restoreMs / 1000) : Number.NaN,
  )
  return (
    `| ${kind} | ${rs.length} | ${rs.every((r) => r.fromLocalSnapshot) ? 'yes' : rs.some((r) => r.fromLocalSnapshot) ? 'some' : 'no'} ` +
    `| ${fmt(med((r) => r.restored))} | ${fmt(med((r) => r.loaded))} | ${fmt(med((r) => r.logOpen))} | ${fmt(med((r) => r.restoreMs))} ` +
    `| ${Number.isNaN(rate) ? '–' : fmt(rate)} | ${fmt(med((r) => r.restoreDone))} | **${fmt(med((r) => r.firstRecord))}** | ${fmt(med((r) => r.cpuFirstRecord))} ` +
    `| ${fmt(med((r) => r.firstCommit))} | ${fmt(med((r) => r.wallFirstRecord))} | ${fmt(med((r) => r.wallFirstCommit))} | ${med((r) => r.others).toFixed(2)} |`
  )
})
process.stdout.write(
  [
    `Machine: ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.filesystem}, ` +
      `kernel ${machine.kernel}; Node ${machine.node}; ${machine.date}.`,
    `State: ${values.keys} keys in ${values.partitions} tasks (lmdb), built in ${fmt(built.ms as number)} ms ` +
      `(${fmt((Number(values.keys) / (built.ms as number)) * 1000)} records/s); ${values.fresh} records appended before each restart.`,
    '',
    '| restart | runs | local state used | records restored | modules loaded (ms) | log open (ms) | restore (ms) | restore (records/s) | restore done (ms) | first record (ms) | CPU used by the first record (ms) | first commit (ms) | first record from spawn (ms) | first commit from spawn (ms) | other processes (cores) |',
    '|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows,
    '',
    'Times in ms since the restarted process started (performance.timeOrigin) unless "from spawn"; medians.',
    '',
  ].join('\n'),
)
log(`runs:\n${results.map((r) => JSON.stringify(r)).join('\n')}`)
