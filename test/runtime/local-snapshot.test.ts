// The runner's local lmdb snapshots, flushed every few commits rather than at each one. The chaos app runs on lmdb
// state flushed every 400 ms (commits every 100 ms) in a child process, which is killed with SIGKILL a few commits
// after a flush, before the next one; after each kill the test checks the state the file holds (exactly the
// committed changelog before its recorded offset: nothing uncommitted, nothing missing), then restores a copy of
// the data dir with the runner and checks that each user's restored totals are those of the committed input.
// After the kills a run to the end must give exactly the reference output. A second test fails a commit in the
// process and checks that the close that follows writes none of the failed transaction's state.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import type { Log, LogProducer } from '../../src/log/contract.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { runPipeline } from '../../src/runtime/runner.ts'
import { lmdbState } from '../../src/state/backends/lmdb.ts'
import { decodeValue } from '../../src/state/backends/value-codec.ts'
import { Store } from '../../src/state/store.ts'
import { prng } from '../log/fixtures/crash-records.ts'
import {
  APP,
  chaosPipeline,
  INPUT,
  INPUT_PARTITIONS,
  MILESTONES,
  type Milestone,
  OUTPUT_PARTITIONS,
  reference,
  VIEWS,
  type View,
  writeInput,
} from './fixtures/chaos-pipeline.ts'

const APP_SCRIPT = fileURLToPath(new URL('./fixtures/chaos-app.ts', import.meta.url))
const SEED = Number(process.env.SLUICE_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31))
const FLUSH_INTERVAL_MS = 400
/** The changelog-record trigger out of the way: flushes come from the interval alone. */
const FLUSH_RECORDS = 100_000_000

const children = new Set<ChildProcess>()
const tempDirs: string[] = []
after(() => {
  for (const c of children) c.kill('SIGKILL')
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-snapshot-'))
  tempDirs.push(d)
  return d
}

function spin(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {}
}

const openLog = (dataDir: string) => openEmbeddedLog({ dataDir: join(dataDir, 'log'), fsync: { mode: 'os' } })

async function prepare(records: number): Promise<string> {
  const dataDir = tempDir()
  const log = await openLog(dataDir)
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

interface Run {
  lines: string[]
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

/**
 * Runs the chaos app on lmdb; with `killAfter`, kills it right after the commit that returns `killAfter` commits
 * after a flush of local state ended, unless another flush started in between.
 */
function runApp(dataDir: string, killAfter?: number, extraMs = 0): Promise<Run> {
  const args = [APP_SCRIPT, dataDir, 'exactly-once', 'lmdb', String(FLUSH_INTERVAL_MS), String(FLUSH_RECORDS)]
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  children.add(child)
  const lines: string[] = []
  let partial = ''
  let stderr = ''
  let flushed = false
  let commits = 0
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    const parts = (partial + s).split('\n')
    partial = parts.pop()!
    for (const line of parts) {
      lines.push(line)
      if (killAfter === undefined) continue
      if (line.startsWith('F ')) commits = 0
      else if (line.startsWith('D ')) flushed = true
      else if (line === 'K' && flushed && ++commits === killAfter) {
        spin(extraMs)
        child.kill('SIGKILL')
      }
    }
  })
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      children.delete(child)
      resolve({ lines, code, signal, stderr })
    })
  })
}

/** The commits a killed run made after its last flush of local state had ended, and whether one had started since. */
function afterLastFlush(lines: string[]): { commits: number; flushing: boolean } {
  const done = lines.findLastIndex((l) => l.startsWith('D '))
  const started = lines.findLastIndex((l) => l.startsWith('F '))
  const commits = lines.slice(done + 1).filter((l) => l === 'K').length
  return { commits, flushing: started > done }
}

/** The tasks and their changelogged stores, as the runner plans them. */
function storesByTask(): { taskId: string; partition: number; store: string; changelog: string }[] {
  const topology = chaosPipeline().build(() => INPUT_PARTITIONS, APP)
  const out = []
  for (const st of topology.subtopologies) {
    for (let partition = 0; partition < st.partitions; partition++) {
      for (const s of st.stores) {
        if (s.writesChangelog)
          out.push({ taskId: `${st.id}_${partition}`, partition, store: s.name, changelog: s.changelogTopic })
      }
    }
  }
  return out
}

const SNAPSHOT_KEY = '\u0000changelog-offset'

/** The committed records of a changelog partition before `end`, applied in order: the store's state at `end`. */
async function changelogState(log: Log, topic: string, partition: number, end: number) {
  const state = new Map<string, unknown>()
  const consumer = log.consumer({ isolationLevel: 'read_committed' })
  const tp = { topic, partition }
  await consumer.assign([tp])
  await consumer.seek(tp, 0)
  const last = await log.admin().listOffsets(topic, partition, 'lastStable')
  while ((consumer.position(tp) ?? last) < Math.min(end, last)) {
    const records = await consumer.poll({ maxRecords: 10_000 })
    if (records.length === 0) break
    for (const r of records) {
      if (r.offset >= end || r.key === null) continue
      if (r.value === null) state.delete(r.key.toString())
      else state.set(r.key.toString(), decodeValue(r.value))
    }
  }
  await consumer.close()
  return state
}

/**
 * Checks each store's lmdb file against its changelog: the state in the file must be exactly the committed
 * changelog before the offset recorded with it. Writes of a transaction that did not commit would be extra or
 * different values; an offset ahead of the state would leave changes before it missing. (The changelog is not
 * compacted here: its segments stay below segment.bytes, so every record before the offset is still in it.)
 * Returns how many committed changelog records each store has after its snapshot: the tail a restore replays.
 */
async function checkFiles(dataDir: string): Promise<Map<string, number>> {
  const log = await openLog(dataDir)
  const tails = new Map<string, number>()
  try {
    for (const { taskId, partition, store, changelog } of storesByTask()) {
      const dir = join(dataDir, 'state', APP, taskId)
      const s = new Store(store, lmdbState().open({ dir, store, taskId }), true)
      try {
        const offset = s.snapshotOffset
        const end = await log.admin().listOffsets(changelog, partition, 'lastStable')
        const file = new Map([...s.backend.entries()].filter(([k]) => k !== SNAPSHOT_KEY))
        if (offset === undefined) {
          assert.equal(file.size, 0, `${taskId}/${store}: state without a snapshot offset`)
          tails.set(`${taskId}/${store}`, end)
          continue
        }
        assert.ok(
          offset <= end,
          `${taskId}/${store}: snapshot offset ${offset} after the changelog's end ${end}`,
        )
        const want = await changelogState(log, changelog, partition, offset)
        const wrong = [...new Set([...file.keys(), ...want.keys()])].filter(
          (k) => !isDeepStrictEqual(file.get(k), want.get(k)),
        )
        assert.equal(
          wrong.length,
          0,
          `${taskId}/${store}: ${wrong.length} keys differ from the changelog before offset ${offset}, e.g. ` +
            wrong
              .slice(0, 3)
              .map(
                (k) =>
                  `${JSON.stringify(k)}: file ${JSON.stringify(file.get(k))}, changelog ${JSON.stringify(want.get(k))}`,
              )
              .join('; '),
        )
        tails.set(`${taskId}/${store}`, end - offset)
      } finally {
        await s.backend.close()
      }
    }
  } finally {
    await log.close()
  }
  return tails
}

/** Each user's [n, sum] over the input records before the group's committed offsets. */
async function committedTotals(
  log: Log,
): Promise<{ totals: Map<string, [number, number]>; pending: Set<string> }> {
  const group = await log.admin().describeGroup(APP)
  const totals = new Map<string, [number, number]>()
  /** Users with input left after the committed offsets: a restarted run processes them again. */
  const pending = new Set<string>()
  const consumer = log.consumer({ isolationLevel: 'read_committed' })
  for (let partition = 0; partition < INPUT_PARTITIONS; partition++) {
    const tp = { topic: INPUT, partition }
    const committed = group.offsets.find((o) => o.topic === INPUT && o.partition === partition)?.offset ?? 0
    const end = await log.admin().listOffsets(INPUT, partition, 'latest')
    await consumer.assign([tp])
    await consumer.seek(tp, 0)
    while ((consumer.position(tp) ?? end) < end) {
      for (const r of await consumer.poll({ maxRecords: 10_000 })) {
        const e = JSON.parse(r.value!.toString()) as { user: string; amount: number }
        if (r.offset >= committed) {
          pending.add(e.user)
          continue
        }
        const [n, sum] = totals.get(e.user) ?? [0, 0]
        totals.set(e.user, [n + 1, sum + e.amount])
      }
    }
  }
  await consumer.close()
  return { totals, pending }
}

/**
 * Restores a copy of the data dir with the runner (lmdb, as the app runs it) and returns, for each user with input
 * left, the totals its first record finds in the restored state, against the totals of the committed input; also
 * what the restore of each store did.
 */
async function restoreCopy(dataDir: string) {
  const copy = tempDir()
  cpSync(dataDir, copy, { recursive: true })
  const log = await openLog(copy)
  try {
    const { totals, pending } = await committedTotals(log)
    const found = new Map<string, [number, number] | undefined>()
    let resolveSeen!: () => void
    const seen = new Promise<void>((resolve) => {
      resolveSeen = resolve
    })
    const observe = (user: string, state: [number, number] | undefined) => {
      if (found.has(user)) return
      found.set(user, state === undefined ? undefined : [state[0], state[1]])
      if ([...pending].every((u) => found.has(u))) resolveSeen()
    }
    if (pending.size === 0) resolveSeen()
    const run = await runPipeline(chaosPipeline(observe), {
      log,
      stateDir: join(copy, 'state'),
      state: lmdbState(),
      commitIntervalMs: 100,
    })
    await Promise.race([seen, run.done])
    const restores = run.restoreProgress()
    await run.stop()
    return { totals, pending, found, restores }
  } finally {
    await log.close()
    rmSync(copy, { recursive: true, force: true })
  }
}

async function readTopic<T>(log: Log, topic: string): Promise<T[]> {
  const consumer = log.consumer({ isolationLevel: 'read_committed' })
  const tps = Array.from({ length: OUTPUT_PARTITIONS }, (_, partition) => ({ topic, partition }))
  await consumer.assign(tps)
  for (const tp of tps) await consumer.seek(tp, 'earliest')
  const out: T[] = []
  for (;;) {
    const batch = await consumer.poll({ timeoutMs: 0 })
    if (batch.length === 0) break
    for (const r of batch) out.push(JSON.parse(r.value!.toString()) as T)
  }
  await consumer.close()
  return out
}

const sortedRows = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort()

describe(`lmdb local snapshots under kill -9 (SLUICE_CHAOS_SEED=${SEED})`, { concurrency: false }, () => {
  it('restores exactly the committed state after a kill between two flushes', {
    timeout: 240_000,
  }, async (t) => {
    const records = 200_000
    const dataDir = await prepare(records)
    const rand = prng(SEED)
    // kills are aimed by time, so on a loaded machine fewer land between two flushes: go on until three have
    const wanted = 3
    const maxKills = 20
    let kills = 0
    let between = 0
    for (let kill = 0; kill < maxKills && between < wanted; kill++) {
      kills++
      const run = await runApp(dataDir, 1 + Math.floor(rand() * 3), rand() * 0.5)
      if (run.signal !== 'SIGKILL') {
        assert.equal(run.code, 0, `run ${kill} failed: ${run.stderr.slice(-2000)}`)
        break
      }
      const landed = afterLastFlush(run.lines)
      if (landed.commits > 0 && !landed.flushing) between++

      const tails = await checkFiles(dataDir)
      const { totals, pending, found, restores } = await restoreCopy(dataDir)
      for (const user of pending) {
        const want = totals.get(user)
        assert.deepStrictEqual(
          found.get(user),
          want,
          `kill ${kill}: user ${user} restored with ${JSON.stringify(found.get(user))}, committed input gives ${JSON.stringify(want)}`,
        )
      }
      const replayed = restores.filter((r) => r.fromLocalSnapshot && r.records > 0)
      t.diagnostic(
        `kill ${kill}: ${landed.commits} commits after the last flush${landed.flushing ? ', in the next flush' : ''}; ` +
          `changelog tails ${JSON.stringify(Object.fromEntries(tails))}; ${pending.size} users checked, ` +
          `${replayed.length} stores replayed a tail over their local snapshot`,
      )
      if (landed.commits > 0 && !landed.flushing) {
        // the killed process committed after its last flush: those commits are a tail to replay over the snapshot
        assert.ok(replayed.length > 0, `kill ${kill}: no store replayed a tail over its snapshot`)
      }
    }
    assert.ok(between >= wanted, `only ${between} of ${kills} kills landed between two flushes`)

    const last = await runApp(dataDir)
    assert.equal(last.code, 0, `the last run failed: ${last.stderr.slice(-2000)}`)
    const log = await openLog(dataDir)
    try {
      const want = reference(records)
      assert.deepStrictEqual(sortedRows(await readTopic<View>(log, VIEWS)), sortedRows(want.views))
      assert.deepStrictEqual(
        sortedRows(await readTopic<Milestone>(log, MILESTONES)),
        sortedRows(want.milestones),
      )
    } finally {
      await log.close()
    }
  })

  it('writes no state of a commit that failed when it closes the stores', { timeout: 60_000 }, async () => {
    const records = 40_000
    const dataDir = await prepare(records)
    const log = await openLog(dataDir)
    let commits = 0
    const failing = (p: LogProducer): LogProducer => ({
      send: (r) => p.send(r),
      initTransactions: () => p.initTransactions(),
      beginTransaction: () => p.beginTransaction(),
      sendOffsetsToTransaction: (o, g) => p.sendOffsetsToTransaction(o, g),
      async commitTransaction() {
        // a few commits after the first flush: the stores hold committed and uncommitted writes
        if (++commits === 8) throw new Error('injected commit failure')
        await p.commitTransaction()
      },
      abortTransaction: () => p.abortTransaction(),
      close: () => p.close(),
    })
    const failingLog: Log = {
      kind: log.kind,
      admin: () => log.admin(),
      producer: (options) => failing(log.producer(options)),
      consumer: (options) => log.consumer(options),
      close: () => log.close(),
    }
    try {
      const run = await runPipeline(chaosPipeline(), {
        log: failingLog,
        stateDir: join(dataDir, 'state'),
        state: lmdbState(),
        commitIntervalMs: 50,
        stateFlushIntervalMs: 200,
        maxPollRecords: 500,
      })
      await assert.rejects(run.done, /injected commit failure/)
    } finally {
      await log.close()
    }
    const tails = await checkFiles(dataDir)
    assert.ok(
      [...tails.values()].some((n) => n > 0),
      `some commits after the last flush: ${JSON.stringify([...tails])}`,
    )
    const { totals, pending, found } = await restoreCopy(dataDir)
    for (const user of pending) assert.deepStrictEqual(found.get(user), totals.get(user), `user ${user}`)
  })
})
