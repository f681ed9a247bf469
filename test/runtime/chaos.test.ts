// The runner under kill -9. A pipeline with a repartitioning keyBy, a windowed count and a keyed process step runs in
// a child process (fixtures/chaos-app.ts) over 1,000,000 prepared records, and is killed with SIGKILL 50 times per
// guarantee, at seeded-random moments: while it opens the log, while it restores state, while it processes, and inside
// its commits; then it runs to the end. Under exactly-once the read_committed output must equal the reference results
// exactly; under at-least-once nothing may be lost (duplicates are counted and reported). A second process on the same
// data directory must be refused while the first runs. SLUICE_CHAOS_SEED replays a run's choices (where a kill lands
// still depends on timing); SLUICE_CHAOS_KEEP=1 keeps the data dir of a failed run for inspection;
// SLUICE_CHAOS_STATE=lmdb runs the pipeline on lmdb state (flushed every 300 ms, so most kills land between two
// flushes) instead of memory.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type { LogRecord } from '../../src/log/contract.ts'
import { TRANSACTIONS_TOPIC } from '../../src/log/embedded/internal-topics.ts'
import { checkBatch, decodeRecords, peekBatchSize } from '../../src/log/embedded/record-batch.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import type { ProcessingGuarantee } from '../../src/runtime/runner.ts'
import { prng } from '../log/fixtures/crash-records.ts'
import {
  APP,
  INPUT,
  INPUT_PARTITIONS,
  MILESTONES,
  type Milestone,
  OUTPUT_PARTITIONS,
  REPARTITION,
  reference,
  unread,
  VIEWS,
  type View,
  writeInput,
} from './fixtures/chaos-pipeline.ts'

const APP_SCRIPT = fileURLToPath(new URL('./fixtures/chaos-app.ts', import.meta.url))
const SEED = Number(process.env.SLUICE_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31))
const RECORDS = 1_000_000
const KILLS = 50
const STATE = process.env.SLUICE_CHAOS_STATE === 'lmdb' ? 'lmdb' : 'memory'

const children = new Set<ChildProcess>()
const tempDirs: string[] = []
/** Node's compile cache, shared by the children: it takes about 0.3 s off each of the hundred restarts. */
let compileCache: string | undefined

after(() => {
  for (const c of children) c.kill('SIGKILL')
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
})

/** Busy-waits: timers are too coarse to aim a kill inside a commit. */
function spin(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {}
}

async function pause(ms: number): Promise<void> {
  if (ms < 2) spin(ms)
  else await sleep(ms)
}

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

/** A chaos-app child process: its stdout lines (with when they came) are handed to listeners as they arrive. */
class App {
  readonly child: ChildProcess
  readonly lines: string[] = []
  readonly exited: Promise<Exit>
  readonly #times = new Map<string, number>()
  readonly #listeners = new Set<(line: string) => void>()
  #partial = ''
  #stderr = ''
  /** Input records committed, as the last progress line said. */
  progress = -1

  constructor(dataDir: string, guarantee: ProcessingGuarantee) {
    compileCache ??= tempDir()
    const state = STATE === 'lmdb' ? ['lmdb', '300'] : []
    this.child = spawn(process.execPath, [APP_SCRIPT, dataDir, guarantee, ...state], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NODE_COMPILE_CACHE: compileCache },
    })
    children.add(this.child)
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      const parts = (this.#partial + s).split('\n')
      this.#partial = parts.pop()!
      for (const line of parts) {
        this.lines.push(line)
        if (!this.#times.has(line)) this.#times.set(line, performance.now())
        if (line.startsWith('P ')) this.progress = Number(line.split(' ')[1])
        for (const f of this.#listeners) f(line)
      }
    })
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.#stderr += s
    })
    this.exited = new Promise((resolve, reject) => {
      this.child.on('error', reject)
      this.child.on('close', (code, signal) => {
        children.delete(this.child)
        resolve({ code, signal, stderr: this.#stderr })
      })
    })
  }

  get pid(): number {
    return this.child.pid!
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  get last(): string {
    return this.lines.at(-1) ?? ''
  }

  /** When the first line equal to `line` came, in performance.now() time. */
  time(line: string): number | undefined {
    return this.#times.get(line)
  }

  /** Calls `f` with every line from now on, synchronously as it is read (so that a kill can follow at once). */
  onLine(f: (line: string) => void): () => void {
    this.#listeners.add(f)
    return () => this.#listeners.delete(f)
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL')
  }

  /** Resolves true at the first line (read or to come) that matches, false if the process exits first. */
  waitLine(match: (line: string) => boolean): Promise<boolean> {
    if (this.lines.some(match)) return Promise.resolve(true)
    return new Promise((resolve) => {
      const off = this.onLine((line) => {
        if (match(line)) {
          off()
          resolve(true)
        }
      })
      void this.exited.then(() => resolve(false))
    })
  }

  describe(e: Exit): string {
    return `exit ${e.signal ?? e.code}, last lines ${JSON.stringify(this.lines.slice(-5))}, stderr: ${e.stderr.slice(-2000)}`
  }
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-chaos-'))
  tempDirs.push(d)
  return d
}

function keepOnFailure(dataDir: string, diagnostic: (s: string) => void): void {
  if (process.env.SLUICE_CHAOS_KEEP !== '1') return
  tempDirs.splice(tempDirs.indexOf(dataDir), 1)
  diagnostic(`data dir kept at ${dataDir}`)
}

/** A data dir whose log holds the input topic, `records` events and a closing record per partition. */
async function prepare(records: number): Promise<string> {
  const dataDir = tempDir()
  const log = await openEmbeddedLog({ dataDir: join(dataDir, 'log'), fsync: { mode: 'os' } })
  try {
    const admin = log.admin()
    await admin.createTopic(INPUT, { partitions: INPUT_PARTITIONS })
    await admin.createTopic(VIEWS, { partitions: OUTPUT_PARTITIONS })
    await admin.createTopic(MILESTONES, { partitions: OUTPUT_PARTITIONS })
    const producer = log.producer()
    await writeInput(producer, records)
    await producer.close()
  } finally {
    await log.close()
  }
  return dataDir
}

/** The phase of the last transaction state record, read from the files without opening (recovering) the log. */
function transactionPhase(dataDir: string): string {
  const dir = join(dataDir, 'log', 'topics', TRANSACTIONS_TOPIC, '0')
  if (!existsSync(dir)) return 'none'
  let phase = 'none'
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .sort()) {
    const buf = readFileSync(join(dir, name))
    for (let pos = 0; pos < buf.length; ) {
      const size = peekBatchSize(buf, pos)
      if (size < 0 || checkBatch(buf, pos) !== 'ok') break // the torn tail that recovery will cut
      const records: LogRecord[] = []
      decodeRecords(buf, pos, 0, records)
      for (const r of records) if (r.value !== null) phase = JSON.parse(r.value.toString()).phase
      pos += size
    }
  }
  return phase
}

/** Where a kill landed, from the last line the killed process wrote (and the transaction log, inside a commit). */
function landing(app: App, guarantee: ProcessingGuarantee, dataDir: string): string {
  const last = app.last
  if (last === 'open') return 'opening the log'
  if (last === 'start' || last === 'restore') return 'starting up, restoring state'
  if (last === 'L') return 'commit: sending changelogs'
  if (last.startsWith('F ')) return 'flushing local state'
  if (last === 'O') {
    return guarantee === 'exactly-once'
      ? 'commit: adding offsets to the transaction'
      : 'commit: between changelogs and offsets'
  }
  if (last === 'C') {
    const phase = transactionPhase(dataDir)
    if (phase === 'PrepareCommit') return 'commit: decided, markers not all written'
    if (phase === 'CompleteCommit') return 'commit: complete, not yet returned'
    return 'commit: before the decision'
  }
  return 'processing'
}

type Strategy = 'open' | 'restore' | 'processing' | 'commit'

function chooseStrategy(rand: () => number): Strategy {
  const x = rand()
  if (x < 0.1) return 'open'
  if (x < 0.25) return 'restore'
  if (x < 0.55) return 'processing'
  return 'commit'
}

/** What the earlier processes took, to aim the next kill: phases' durations and the processing rate. */
class Pace {
  openMs = 300
  restoreMs = 300
  recordsPerMs = 50
  done = 0
  readonly total: number

  constructor(total: number) {
    this.total = total
  }

  learn(app: App): void {
    const open = app.time('open')
    const start = app.time('start')
    const running = app.time('running')
    if (open !== undefined && start !== undefined) this.openMs = start - open
    if (start !== undefined && running !== undefined) this.restoreMs = running - start
    if (running !== undefined && app.progress > this.done) {
      const ms = performance.now() - running
      if (ms > 50) this.recordsPerMs = (this.recordsPerMs + (app.progress - this.done) / ms) / 2
    }
    if (app.progress >= 0) this.done = app.progress
  }

  /** A processing delay that spreads the remaining kills over the remaining input, leaving a share to the last run. */
  delay(rand: () => number, killsLeft: number): number {
    const mean = (this.total - this.done) / this.recordsPerMs / (killsLeft + 1)
    return rand() * 2 * Math.max(5, mean)
  }
}

/** Kills the app at a point chosen by `strategy`; resolves once it is gone (killed, or finished on its own). */
async function killDuring(
  app: App,
  strategy: Strategy,
  guarantee: ProcessingGuarantee,
  rand: () => number,
  pace: Pace,
  killsLeft: number,
): Promise<void> {
  const at = { open: 'open', restore: 'start', processing: 'running', commit: 'running' }[strategy]
  const delay =
    strategy === 'open'
      ? rand() * pace.openMs
      : strategy === 'restore'
        ? rand() * pace.restoreMs
        : pace.delay(rand, killsLeft)
  // inside a commit: the step after which to kill, and a fraction of a millisecond more
  const markers = guarantee === 'exactly-once' ? ['L', 'O', 'C'] : ['L', 'O']
  const marker = markers[Math.floor(rand() * markers.length)]
  const extra = rand() * 0.2
  if (await app.waitLine((l) => l === at)) {
    await pause(delay)
    if (strategy !== 'commit') app.kill()
    else {
      const off = app.onLine((line) => {
        if (line !== marker) return
        off()
        spin(extra)
        app.kill()
      })
    }
  }
  await app.exited
}

function multiset(rows: string[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const r of rows) m.set(r, (m.get(r) ?? 0) + 1)
  return m
}

/** Rows `got` has more or fewer times than `want`: "row ×n" with n > 0 for extra copies, < 0 for missing ones. */
function differences(got: string[], want: string[]): string[] {
  const g = multiset(got)
  const w = multiset(want)
  const out: string[] = []
  for (const [row, n] of w) if ((g.get(row) ?? 0) !== n) out.push(`${row} ×${(g.get(row) ?? 0) - n}`)
  for (const [row, n] of g) if (!w.has(row)) out.push(`${row} ×${n}`)
  return out
}

const viewRow = (v: View) => `${v.page}@${v.start}=${v.views}`
const milestoneRow = (m: Milestone) => `${m.user}#${m.n}=${m.sum}`

interface Outputs {
  views: View[]
  milestones: Milestone[]
}

/** Reads both output topics from the start under read_committed, after checking the run left nothing open. */
async function readOutputs(dataDir: string): Promise<Outputs> {
  const log = await openEmbeddedLog({ dataDir: join(dataDir, 'log'), fsync: { mode: 'os' } })
  try {
    const admin = log.admin()
    const group = await admin.describeGroup(APP)
    for (let p = 0; p < INPUT_PARTITIONS; p++) {
      const end = await admin.listOffsets(INPUT, p, 'latest')
      const committed = group.offsets.find((o) => o.topic === INPUT && o.partition === p)?.offset
      assert.equal(committed, end, `input partition ${p}: committed offset ${committed}, end ${end}`)
    }
    // the window step must have consumed all the first step wrote, or its last windows would be missing for that
    const probe = log.consumer({ isolationLevel: 'read_committed' })
    for (const { partition } of (await admin.describeTopic(REPARTITION)).partitions) {
      const committed = group.offsets.find(
        (o) => o.topic === REPARTITION && o.partition === partition,
      )?.offset
      assert.ok(
        !(await unread(log, probe, { topic: REPARTITION, partition }, committed ?? 0)),
        `${REPARTITION}/${partition}: records after the committed offset ${committed} were never processed`,
      )
    }
    await probe.close()
    const read = async <T>(topic: string): Promise<T[]> => {
      const consumer = log.consumer({ isolationLevel: 'read_committed' })
      const tps = Array.from({ length: OUTPUT_PARTITIONS }, (_, partition) => ({ topic, partition }))
      await consumer.assign(tps)
      for (const tp of tps) await consumer.seek(tp, 'earliest')
      const { partitions } = await admin.describeTopic(topic)
      for (const p of partitions) {
        assert.equal(
          p.lastStableOffset,
          p.highWatermark,
          `${topic}/${p.partition}: a transaction is still open`,
        )
      }
      const out: T[] = []
      for (;;) {
        const batch = await consumer.poll({ timeoutMs: 0 })
        if (batch.length === 0) break
        for (const r of batch) out.push(JSON.parse(r.value!.toString()) as T)
      }
      await consumer.close()
      return out
    }
    return { views: await read<View>(VIEWS), milestones: await read<Milestone>(MILESTONES) }
  } finally {
    await log.close()
  }
}

function checkExactlyOnce(got: Outputs, want: Outputs): string {
  for (const [what, g, w] of [
    ['views', got.views.map(viewRow), want.views.map(viewRow)],
    ['milestones', got.milestones.map(milestoneRow), want.milestones.map(milestoneRow)],
  ] as const) {
    const diff = differences(g, w)
    assert.equal(
      diff.length,
      0,
      `${what}: ${g.length} rows, ${w.length} expected; ${diff.length} differ (×n: extra or missing copies): ${diff.slice(0, 10).join(', ')}`,
    )
  }
  return `${got.views.length} views and ${got.milestones.length} milestones, equal to the reference`
}

/**
 * At-least-once promises no loss, not correct aggregates: a record processed again after a kill counts again in the
 * state it already changed (the changelog may be ahead of the committed offsets, and a repartitioned record may be
 * written twice). So every reference window must be emitted with at least its count, and every reference milestone
 * (user, n) must be emitted; the rest (copies, overcounts, partial windows, sums shifted by double counting) is
 * counted and reported.
 */
function checkAtLeastOnce(got: Outputs, want: Outputs): string {
  const windows = new Map<string, number[]>()
  for (const v of got.views) {
    const k = `${v.page}@${v.start}`
    windows.set(k, [...(windows.get(k) ?? []), v.views])
  }
  const stats = { copies: 0, over: 0, under: 0, milestoneCopies: 0, shiftedSums: 0, beyond: 0 }
  const wantWindows = new Set<string>()
  for (const v of want.views) {
    const k = `${v.page}@${v.start}`
    wantWindows.add(k)
    const counts = windows.get(k) ?? []
    assert.ok(counts.length > 0, `window ${k} (${v.views} views) is missing`)
    assert.ok(
      Math.max(...counts) >= v.views,
      `window ${k} was emitted with ${counts.join(', ')} views, less than its ${v.views}: records were lost`,
    )
    for (const n of counts) {
      if (n === v.views) stats.copies++
      else if (n > v.views) stats.over++
      else stats.under++
    }
    if (counts.includes(v.views)) stats.copies--
  }
  for (const k of windows.keys()) assert.ok(wantWindows.has(k), `window ${k} is not in the reference`)

  const milestones = new Map<string, number[]>()
  for (const m of got.milestones) {
    const k = `${m.user}#${m.n}`
    milestones.set(k, [...(milestones.get(k) ?? []), m.sum])
  }
  const wantMilestones = new Set<string>()
  for (const m of want.milestones) {
    const k = `${m.user}#${m.n}`
    wantMilestones.add(k)
    const sums = milestones.get(k) ?? []
    assert.ok(sums.length > 0, `milestone ${k} is missing`)
    stats.milestoneCopies += sums.filter((s) => s === m.sum).length - (sums.includes(m.sum) ? 1 : 0)
    stats.shiftedSums += sums.filter((s) => s !== m.sum).length
  }
  for (const [k, sums] of milestones) if (!wantMilestones.has(k)) stats.beyond += sums.length
  return (
    `${got.views.length} views for ${want.views.length} windows (${stats.copies} exact copies, ${stats.over} over, ` +
    `${stats.under} under the count); ${got.milestones.length} milestones for ${want.milestones.length} ` +
    `(${stats.milestoneCopies} exact copies, ${stats.shiftedSums} with a sum shifted by double counting, ` +
    `${stats.beyond} past the last one)`
  )
}

async function chaos(guarantee: ProcessingGuarantee, seed: number, diagnostic: (s: string) => void) {
  const rand = prng(seed)
  const want = reference(RECORDS)
  const dataDir = await prepare(RECORDS)
  const pace = new Pace(RECORDS + INPUT_PARTITIONS)
  const landed = new Map<string, number>()
  /** Kills per tenth of the input committed when they landed. */
  const tenths = new Array<number>(10).fill(0)
  let kills = 0
  let finishedEarly = 0
  try {
    for (let attempt = 0; kills < KILLS; attempt++) {
      assert.ok(attempt < 4 * KILLS, `only ${kills} of ${attempt} processes could be killed`)
      const app = new App(dataDir, guarantee)
      const strategy = chooseStrategy(rand)
      await killDuring(app, strategy, guarantee, rand, pace, KILLS - kills)
      const exit = await app.exited
      pace.learn(app)
      if (exit.signal === 'SIGKILL') {
        kills++
        const where = landing(app, guarantee, dataDir)
        landed.set(where, (landed.get(where) ?? 0) + 1)
        tenths[Math.min(9, Math.floor((10 * pace.done) / pace.total))]++
      } else {
        assert.equal(exit.code, 0, `run ${attempt} failed: ${app.describe(exit)}`)
        assert.equal(app.last, 'done', `run ${attempt} stopped early: ${app.describe(exit)}`)
        finishedEarly++
      }
    }
    const last = new App(dataDir, guarantee)
    const exit = await last.exited
    assert.ok(exit.code === 0 && last.last === 'done', `the last run failed: ${last.describe(exit)}`)
    diagnostic(
      `${guarantee}, seed ${seed}: ${kills} kills (${finishedEarly} runs finished first); they landed: ` +
        `${JSON.stringify(Object.fromEntries([...landed].sort()))}; per tenth of the input: ${tenths.join(' ')}`,
    )
    const got = await readOutputs(dataDir)
    diagnostic(guarantee === 'exactly-once' ? checkExactlyOnce(got, want) : checkAtLeastOnce(got, want))
  } catch (err) {
    diagnostic(`failed (seed ${seed}) after ${kills} kills: ${JSON.stringify(Object.fromEntries(landed))}`)
    keepOnFailure(dataDir, diagnostic)
    throw err
  }
}

describe(`runner under kill -9 (SLUICE_CHAOS_SEED=${SEED}, ${STATE} state)`, { concurrency: false }, () => {
  for (const [i, guarantee] of (['exactly-once', 'at-least-once'] as const).entries()) {
    it(`${guarantee}: ${KILLS} kills over ${RECORDS.toLocaleString('en')} records, then a run to the end`, {
      // lmdb processes more slowly, and each restart opens its files and replays a changelog tail
      timeout: STATE === 'lmdb' ? 400_000 : 300_000,
    }, async (t) => {
      await chaos(guarantee, SEED + i * 7_919, (s) => t.diagnostic(s))
    })
  }

  it('refuses a second process on a data dir in use, with a clear error, while the first finishes', {
    timeout: 60_000,
  }, async (t) => {
    const records = 200_000
    const dataDir = await prepare(records)
    try {
      const first = new App(dataDir, 'exactly-once')
      assert.ok(
        await first.waitLine((l) => l.startsWith('P ') && Number(l.split(' ')[1]) > 0),
        'the first process should commit',
      )
      const second = new App(dataDir, 'exactly-once')
      const refused = await second.exited
      assert.ok(first.running, 'the first process should still be running')
      assert.equal(refused.code, 1, second.describe(refused))
      assert.ok(!second.lines.includes('start'), 'the second process must not open the log')
      const message = refused.stderr.trim()
      assert.match(message, /^SLUICE_ERR_DATA_DIR_LOCKED: /)
      assert.ok(message.includes(join(dataDir, 'log')), `the message should name the data dir: ${message}`)
      assert.ok(message.includes(`process ${first.pid}`), `the message should name the owner: ${message}`)
      t.diagnostic(`refused: ${message}`)

      const exit = await first.exited
      assert.ok(exit.code === 0 && first.last === 'done', `the first process failed: ${first.describe(exit)}`)
      t.diagnostic(checkExactlyOnce(await readOutputs(dataDir), reference(records)))
    } catch (err) {
      keepOnFailure(dataDir, (s) => t.diagnostic(s))
      throw err
    }
  })
})
