// Crash safety of the embedded log. A writer runs in a child process (fixtures/writer.ts) and is killed with SIGKILL
// at random points: while it appends, while it commits or aborts a transaction, while a segment rolls, and while it
// recovers from the previous kill. After the kills the log must hold every acknowledged record exactly once, at the
// acknowledged offset, byte for byte; read_committed must show committed transactions whole and nothing of aborted or
// unfinished ones. SLUICE_CRASH_SEED replays a run's choices (strategies, delays, what the writers send; where a kill
// lands still depends on timing); SLUICE_CRASH_KEEP=1 keeps the data dir of a failed run for inspection.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import {
  existsSync,
  type FSWatcher,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  watch,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { isSluiceError } from '../../src/errors/index.ts'
import type { ConsumedRecord, IsolationLevel, PartitionDescription } from '../../src/log/contract.ts'
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts'
import { TRANSACTIONS_TOPIC } from '../../src/log/embedded/internal-topics.ts'
import {
  checkBatch,
  decodeRecords,
  isControl,
  lastOffsetOf,
  peekBatchSize,
} from '../../src/log/embedded/record-batch.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import {
  CRASH_GROUP,
  CRASH_PARTITIONS,
  CRASH_SEGMENT_BYTES,
  CRASH_TOPIC,
  checkRecord,
  type Placement,
  parsePlacements,
  prng,
  type RecordTag,
} from './fixtures/crash-records.ts'

const WRITER = fileURLToPath(new URL('./fixtures/writer.ts', import.meta.url))
const PROBE = fileURLToPath(new URL('./fixtures/open-probe.ts', import.meta.url))
const SEED = Number(process.env.SLUICE_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))
const KILLS_PER_MODE = 32

const children = new Set<ChildProcess>()
const tempDirs: string[] = []

after(() => {
  for (const c of children) c.kill('SIGKILL')
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-crash-'))
  tempDirs.push(d)
  return d
}

/** Busy-waits for a fraction of a millisecond: timers are too coarse to aim a kill inside a commit. */
function spin(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {}
}

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

/** A writer child process, its stdout split into lines and handed to listeners as they arrive. */
class Writer {
  readonly child: ChildProcess
  readonly lines: string[] = []
  readonly exited: Promise<Exit>
  #partial = ''
  #stderr = ''
  readonly #listeners = new Set<(line: string) => void>()

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [WRITER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    children.add(this.child)
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      const parts = (this.#partial + s).split('\n')
      this.#partial = parts.pop()!
      for (const line of parts) {
        this.lines.push(line)
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
        // a last line without its newline was cut by the kill: it reports nothing
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

  /** Calls `f` with every line from now on, synchronously as it is read (so that a kill can follow at once). */
  onLine(f: (line: string) => void): () => void {
    this.#listeners.add(f)
    return () => this.#listeners.delete(f)
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL')
  }

  /** Resolves at the first line (already read or to come) that satisfies `match`; rejects if the writer exits. */
  waitLine(match: (line: string) => boolean, what: string): Promise<void> {
    if (this.lines.some(match)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const off = this.onLine((line) => {
        if (match(line)) {
          off()
          resolve()
        }
      })
      void this.exited.then((e) =>
        reject(new Error(`writer exited (${e.signal ?? e.code}) before ${what}: ${this.describe(e)}`)),
      )
    })
  }

  describe(e: Exit): string {
    const errors = this.lines.filter((l) => l.startsWith('E '))
    return `${errors.join('; ')} ${e.stderr.slice(-2000)}`.trim()
  }
}

/** What the writers reported: every acknowledgement, and which transactions they asked to commit or abort. */
class Ledger {
  readonly plain = new Map<number, Placement>()
  readonly txnPlacements = new Map<number, Placement[]>()
  readonly commitCalled = new Set<number>()
  readonly commitAcked = new Set<number>()
  readonly abortCalled = new Set<number>()

  apply(line: string): void {
    const words = line.split(' ')
    switch (words[0]) {
      case 'A':
        for (const p of parsePlacements(words.slice(1))) this.plain.set(p.seq, p)
        break
      case 'S': {
        const txn = Number(words[1])
        const list = this.txnPlacements.get(txn) ?? []
        list.push(...parsePlacements(words.slice(2)))
        this.txnPlacements.set(txn, list)
        break
      }
      case 'C':
        this.commitCalled.add(Number(words[1]))
        break
      case 'K':
        this.commitAcked.add(Number(words[1]))
        break
      case 'B':
        this.abortCalled.add(Number(words[1]))
        break
    }
  }

  placement(seq: number, tag: RecordTag): Placement | undefined {
    if (tag.intent === 'plain') return this.plain.get(seq)
    return this.txnPlacements.get(tag.txn)?.find((p) => p.seq === seq)
  }
}

interface Found {
  tag: RecordTag
  partition: number
  offset: number
}

interface Report {
  records: number
  visible: number
  segments: number
  inFlightCommits: { landed: number; rolledBack: number }
}

async function readAll(
  log: EmbeddedLog,
  isolation: IsolationLevel,
  partitions: readonly PartitionDescription[],
): Promise<ConsumedRecord[]> {
  const consumer = log.consumer({ isolationLevel: isolation, maxBytesPerPartition: 256 * 1024 })
  const tps = partitions.map((p) => ({ topic: CRASH_TOPIC, partition: p.partition }))
  await consumer.assign(tps)
  for (const tp of tps) await consumer.seek(tp, 'earliest')
  const ends = partitions.map((p) => (isolation === 'read_committed' ? p.lastStableOffset : p.highWatermark))
  const out: ConsumedRecord[] = []
  for (let polls = 0; tps.some((tp, i) => consumer.position(tp)! < ends[i]); polls++) {
    assert.ok(polls < 100_000, `reading ${isolation} made no progress`)
    for (const r of await consumer.poll()) out.push(r)
  }
  await consumer.close()
  return out
}

/** Walks every batch of a partition (each CRC-checked by the scan): offsets must run on without gap or overlap. */
function checkBatches(log: EmbeddedLog, partition: number, highWatermark: number): number {
  const p = log.partition(CRASH_TOPIC, partition)
  let expected = 0
  for (const segment of p.segments) {
    assert.equal(
      segment.baseOffset,
      expected,
      `partition ${partition}: segment starts at ${segment.baseOffset}`,
    )
    segment.scan(0, (h) => {
      assert.equal(
        h.baseOffset,
        expected,
        `partition ${partition}: batch at ${h.baseOffset}, expected ${expected}`,
      )
      if (!isControl(h))
        assert.equal(h.recordCount, h.lastOffsetDelta + 1, `partition ${partition}: batch ${h.baseOffset}`)
      expected = lastOffsetOf(h) + 1
      return 'continue'
    })
  }
  assert.equal(
    expected,
    highWatermark,
    `partition ${partition}: batches end at ${expected}, HW ${highWatermark}`,
  )
  return p.segments.length
}

/** Every record as written, at its acknowledged place, at most once; returns them by sequence number. */
function checkReadBack(
  records: readonly ConsumedRecord[],
  ledger: Ledger,
  label: string,
): Map<number, Found> {
  const bySeq = new Map<number, Found>()
  const lastOffset = new Map<number, number>()
  for (const r of records) {
    const prev = lastOffset.get(r.partition) ?? -1
    assert.ok(r.offset > prev, `${label}: partition ${r.partition} returned offset ${r.offset} after ${prev}`)
    lastOffset.set(r.partition, r.offset)
    const tag = checkRecord(r)
    if (typeof tag === 'string') assert.fail(`${label}: partition ${r.partition} offset ${r.offset}: ${tag}`)
    const twin = bySeq.get(tag.seq)
    if (twin !== undefined) {
      assert.fail(
        `${label}: record ${tag.seq} appears twice, at ${twin.partition}/${twin.offset} and ${r.partition}/${r.offset}`,
      )
    }
    const acked = ledger.placement(tag.seq, tag)
    if (acked !== undefined && (acked.partition !== r.partition || acked.offset !== r.offset)) {
      assert.fail(
        `${label}: record ${tag.seq} was acknowledged at ${acked.partition}/${acked.offset} but read at ${r.partition}/${r.offset}`,
      )
    }
    bySeq.set(tag.seq, { tag, partition: r.partition, offset: r.offset })
  }
  return bySeq
}

/** Opens the log in this process (recovering it) and checks everything the writers were promised. */
async function verify(dataDir: string, ledger: Ledger): Promise<Report> {
  const log = await openEmbeddedLog({
    dataDir,
    fsync: { mode: 'os' },
    maintenanceIntervalMs: 0,
    topicDefaults: { 'segment.bytes': CRASH_SEGMENT_BYTES },
  })
  try {
    const report: Report = {
      records: 0,
      visible: 0,
      segments: 0,
      inFlightCommits: { landed: 0, rolledBack: 0 },
    }
    if (!log.hasTopic(CRASH_TOPIC)) {
      assert.equal(
        ledger.plain.size + ledger.txnPlacements.size,
        0,
        'sends were acknowledged, but the topic is gone',
      )
      return report
    }
    const { partitions } = await log.admin().describeTopic(CRASH_TOPIC)
    assert.equal(partitions.length, CRASH_PARTITIONS)
    for (const p of partitions) {
      assert.equal(
        p.lastStableOffset,
        p.highWatermark,
        `partition ${p.partition}: a transaction is still open after recovery (LSO ${p.lastStableOffset} < HW ${p.highWatermark})`,
      )
      report.segments += checkBatches(log, p.partition, p.highWatermark)
    }
    const all = checkReadBack(await readAll(log, 'read_uncommitted', partitions), ledger, 'read_uncommitted')
    const visible = checkReadBack(await readAll(log, 'read_committed', partitions), ledger, 'read_committed')
    report.records = all.size
    report.visible = visible.size

    const txnVisible = new Map<number, { seen: number; count: number }>()
    for (const [seq, { tag, partition, offset }] of visible) {
      assert.ok(all.has(seq), `record ${seq} is visible under read_committed only`)
      const where = `record ${seq} at ${partition}/${offset}`
      if (tag.intent === 'abort')
        assert.fail(`${where} belongs to aborted transaction ${tag.txn}, yet read_committed returns it`)
      if (tag.intent === 'open') {
        assert.fail(
          `${where} belongs to transaction ${tag.txn}, never committed, yet read_committed returns it`,
        )
      }
      if (tag.intent === 'commit') {
        assert.ok(
          ledger.commitCalled.has(tag.txn),
          `${where} belongs to transaction ${tag.txn}, whose commit was never requested, yet read_committed returns it`,
        )
        const t = txnVisible.get(tag.txn) ?? { seen: 0, count: tag.count }
        t.seen++
        txnVisible.set(tag.txn, t)
      }
    }
    for (const [txn, { seen, count }] of txnVisible) {
      assert.equal(
        seen,
        count,
        `transaction ${txn}: ${seen} of its ${count} records are visible (all or nothing)`,
      )
    }
    for (const [seq, p] of ledger.plain) {
      assert.ok(visible.has(seq), `acknowledged record ${seq} (${p.partition}/${p.offset}) is missing`)
    }
    for (const txn of ledger.commitAcked) {
      assert.ok(
        txnVisible.has(txn),
        `transaction ${txn} was committed and acknowledged, but none of it is visible`,
      )
      for (const p of ledger.txnPlacements.get(txn) ?? []) {
        assert.ok(visible.has(p.seq), `record ${p.seq} of acknowledged transaction ${txn} is missing`)
      }
    }
    for (const txn of ledger.commitCalled) {
      if (ledger.commitAcked.has(txn)) continue
      if (txnVisible.has(txn)) report.inFlightCommits.landed++
      else report.inFlightCommits.rolledBack++
    }

    // the offsets sent to each transaction count exactly when the transaction does
    const group = log.consumer({ groupId: CRASH_GROUP })
    const committed = (await group.committed([{ topic: CRASH_TOPIC, partition: 0 }])).get(`${CRASH_TOPIC}:0`)
    await group.close()
    const lastVisible = txnVisible.size === 0 ? undefined : Math.max(...txnVisible.keys())
    assert.equal(
      committed,
      lastVisible,
      `group offset is ${committed}, but the last visible committed transaction is ${lastVisible}`,
    )
    return report
  } finally {
    await log.close()
  }
}

/**
 * The phase of a transactional id as the killed writer left it in the transaction log, read from the files without
 * opening the log: `PrepareCommit` or `PrepareAbort` means the kill landed inside a commit or an abort.
 */
function phaseAtKill(dataDir: string, transactionalId: string): string {
  const dir = join(dataDir, 'topics', TRANSACTIONS_TOPIC, '0')
  if (!existsSync(dir)) return 'none'
  let phase = 'none'
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .sort()) {
    const buf = readFileSync(join(dir, name))
    for (let pos = 0; pos < buf.length; ) {
      const size = peekBatchSize(buf, pos)
      if (size < 0 || checkBatch(buf, pos) !== 'ok') break // the torn tail that recovery will cut
      const records: ConsumedRecord[] = []
      decodeRecords(buf, pos, 0, records)
      for (const r of records) {
        if (r.key?.toString() === transactionalId && r.value !== null)
          phase = JSON.parse(r.value.toString()).phase
      }
      pos += size
    }
  }
  return phase
}

/** What a kill aimed at a roll left in the partition directories. */
function rollStateAtKill(dataDir: string): string {
  const states: string[] = []
  for (let p = 0; p < CRASH_PARTITIONS; p++) {
    const names = readdirSync(join(dataDir, 'topics', CRASH_TOPIC, String(p)))
    const logs = new Set(names.filter((n) => n.endsWith('.log')).map((n) => n.slice(0, -4)))
    if (names.some((n) => n.endsWith('.tmp'))) states.push('snapshot half written')
    else if (names.some((n) => n.endsWith('.snapshot') && !logs.has(n.slice(0, -9))))
      states.push('snapshot written, no new segment')
    else if (names.some((n) => n.endsWith('.log') && !names.includes(`${n.slice(0, -4)}.timeindex`)))
      states.push('new segment without indexes')
  }
  return states.length === 0 ? 'roll finished' : states.join(', ')
}

type Strategy = 'recovery' | 'timer' | 'acks' | 'commit' | 'roll'

function chooseStrategy(rand: () => number): Strategy {
  const x = rand()
  if (x < 0.1) return 'recovery'
  if (x < 0.25) return 'timer'
  if (x < 0.45) return 'acks'
  if (x < 0.8) return 'commit'
  return 'roll'
}

/** Kills the writer at a point chosen by `strategy`; resolves with what the kill actually hit. */
async function killDuring(
  w: Writer,
  strategy: Strategy,
  rand: () => number,
  dataDir: string,
): Promise<string> {
  const fallback = setTimeout(() => w.kill(), 5_000)
  try {
    if (strategy === 'recovery') {
      // the writer prints O just before it opens the log, so this lands in open and recovery (or just after)
      const delay = rand() * 6
      await new Promise<void>((resolve) => {
        const off = w.onLine((line) => {
          if (line !== 'O') return
          off()
          spin(delay)
          w.kill()
          resolve()
        })
        void w.exited.then(() => resolve())
      })
      return w.lines.includes('R') ? 'recovery (after ready)' : 'recovery'
    }
    await w.waitLine((l) => l === 'R', 'ready')
    if (strategy === 'timer') {
      await sleep(1 + rand() * 120)
      w.kill()
      return 'timer'
    }
    if (strategy === 'acks') {
      const target = 1 + Math.floor(rand() * 400)
      let acks = 0
      w.onLine((line) => {
        if ((line.startsWith('A ') || line.startsWith('S ')) && ++acks >= target) w.kill()
      })
      await w.exited
      return 'acks'
    }
    if (strategy === 'commit') {
      // mostly commits, sometimes aborts; the coordinator's work takes well under a millisecond, and the kill often
      // lands inside it with no delay at all (the woken parent preempts the writer)
      const marker = rand() < 0.8 ? 'C ' : 'B '
      const target = 1 + Math.floor(rand() * 6)
      const delay = rand() < 0.5 ? 0 : rand() * 0.3
      let seen = 0
      w.onLine((line) => {
        if (line.startsWith(marker) && ++seen === target) {
          spin(delay)
          w.kill()
        }
      })
      await w.exited
      return marker === 'C ' ? 'commit' : 'abort'
    }
    // roll: a file created in a partition directory means a roll is under way (snapshot, new segment, indexes)
    const delay = rand() * 0.3
    const watchers: FSWatcher[] = []
    let rolled = false
    for (let p = 0; p < CRASH_PARTITIONS; p++) {
      watchers.push(
        watch(join(dataDir, 'topics', CRASH_TOPIC, String(p)), (event) => {
          if (event !== 'rename' || rolled) return
          rolled = true
          spin(delay)
          w.kill()
        }),
      )
    }
    await w.exited
    for (const watcher of watchers) watcher.close()
    return rolled ? `roll: ${rollStateAtKill(dataDir)}` : 'roll (missed)'
  } finally {
    clearTimeout(fallback)
    w.kill()
  }
}

async function crashLoop(
  mode: 'os' | 'interval',
  seed: number,
  diagnostic: (s: string) => void,
): Promise<void> {
  const rand = prng(seed)
  const dataDir = tempDir()
  const ledger = new Ledger()
  const hits = new Map<string, number>()
  const phases = new Map<string, number>()
  let report: Report | undefined
  for (let run = 0; run < KILLS_PER_MODE; run++) {
    const strategy = chooseStrategy(rand)
    const w = new Writer([dataDir, mode, String((run + 1) * 1_000_000), String(seed + run)])
    w.onLine((line) => ledger.apply(line))
    const hit = await killDuring(w, strategy, rand, dataDir)
    const exit = await w.exited
    assert.equal(exit.signal, 'SIGKILL', `run ${run}: the writer exited on its own: ${w.describe(exit)}`)
    hits.set(hit, (hits.get(hit) ?? 0) + 1)
    const phase = phaseAtKill(dataDir, 'crash-main')
    phases.set(phase, (phases.get(phase) ?? 0) + 1)
    // check now and then, so that a failure points at the kills just before it; the writers recover the rest
    if (run % 8 === 7 || run === KILLS_PER_MODE - 1) {
      try {
        report = await verify(dataDir, ledger)
      } catch (err) {
        diagnostic(`failed after run ${run} (kill: ${hit})`)
        if (process.env.SLUICE_CRASH_KEEP === '1') {
          tempDirs.splice(tempDirs.indexOf(dataDir), 1)
          diagnostic(`data dir kept at ${dataDir}`)
        }
        throw err
      }
    }
  }
  diagnostic(
    `seed ${seed}, fsync ${mode}: ${KILLS_PER_MODE} kills: ${JSON.stringify(Object.fromEntries(hits))}`,
  )
  diagnostic(`transaction phase at the kills: ${JSON.stringify(Object.fromEntries(phases))}`)
  diagnostic(
    `${report!.records} records (${report!.visible} visible under read_committed), ${report!.segments} segments; ` +
      `commits in flight at a kill: ${report!.inFlightCommits.landed} landed, ${report!.inFlightCommits.rolledBack} rolled back; ` +
      `acknowledged: ${ledger.plain.size} plain records, ${ledger.commitAcked.size} commits`,
  )
  assert.ok(
    ledger.commitAcked.size > 0 && ledger.plain.size > 0,
    'the writers acknowledged too little to prove anything',
  )
  assert.ok(report!.segments > 3 * CRASH_PARTITIONS, 'segments should have rolled during the runs')
}

interface ProbeResult {
  ok: boolean
  pid: number
  code?: string
  message?: string
  partitions?: PartitionDescription[]
}

async function probe(dataDir: string): Promise<ProbeResult> {
  const child = spawn(process.execPath, [PROBE, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s
  })
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    err += s
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  children.delete(child)
  assert.equal(code, 0, `open-probe failed: ${err}`)
  return JSON.parse(out) as ProbeResult
}

describe(`embedded log under kill -9 (SLUICE_CRASH_SEED=${SEED})`, { concurrency: false }, () => {
  for (const [i, mode] of (['os', 'interval'] as const).entries()) {
    it(`keeps acknowledged records and transactions, and hides the rest, across ${KILLS_PER_MODE} kills (fsync ${mode})`, {
      timeout: 120_000,
    }, async (t) => {
      await crashLoop(mode, SEED + i * 7_919, (s) => t.diagnostic(s))
    })
  }

  it('gives the data dir to one process at a time, and to a new one after its owner is killed', {
    timeout: 30_000,
  }, async () => {
    const dataDir = tempDir()
    const ledger = new Ledger()
    const w = new Writer([dataDir, 'os', '0', String(SEED)])
    w.onLine((line) => ledger.apply(line))
    let acks = 0
    await w.waitLine((l) => l.startsWith('K ') && ++acks >= 3, 'three acknowledged commits')

    const second = await probe(dataDir)
    assert.equal(second.ok, false, 'a second process opened a data dir in use')
    assert.equal(second.code, 'SLUICE_ERR_DATA_DIR_LOCKED')
    assert.ok(second.message?.includes(dataDir), `the message should name the dir: ${second.message}`)
    assert.ok(second.message?.includes(String(w.pid)), `the message should name the owner: ${second.message}`)
    await assert.rejects(
      openEmbeddedLog({ dataDir, maintenanceIntervalMs: 0 }),
      (err) => isSluiceError(err, 'SLUICE_ERR_DATA_DIR_LOCKED') && err.message.includes(String(w.pid)),
    )

    w.kill()
    await w.exited
    const lock = join(dataDir, '.lock')
    assert.equal(readFileSync(lock, 'utf8').trim(), String(w.pid), 'kill -9 leaves its lock behind')
    const next = await probe(dataDir)
    assert.equal(
      next.ok,
      true,
      `the stale lock of a killed owner should be taken over: ${JSON.stringify(next)}`,
    )
    assert.equal(existsSync(lock), false, 'closing the log releases the lock')

    // a lock file that holds no pid (a crash while it was written) does not lock anyone out either
    writeFileSync(lock, '')
    assert.equal((await probe(dataDir)).ok, true)
    writeFileSync(lock, 'garbage\n')
    assert.equal((await probe(dataDir)).ok, true)

    const log = await openEmbeddedLog({ dataDir, maintenanceIntervalMs: 0 })
    try {
      await assert.rejects(
        openEmbeddedLog({ dataDir, maintenanceIntervalMs: 0 }),
        (err) => isSluiceError(err, 'SLUICE_ERR_DATA_DIR_LOCKED') && err.message.includes('this process'),
      )
    } finally {
      await log.close()
    }
    const report = await verify(dataDir, ledger)
    assert.ok(report.visible > 0)
  })
})
