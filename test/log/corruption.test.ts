// Damaged files of the embedded log: torn and bit-flipped segments, lost or garbled indexes, producer snapshots,
// aborted-transaction indexes and topic metadata. Whatever the damage, the log must recover (cut a torn tail, rebuild
// what is derived) or fail with a SluiceError; a read never returns a record other than the one written at its
// offset. Damage positions come from fast-check with a fixed seed; set SLUICE_CORRUPTION_SEED to explore others.
import assert from 'node:assert/strict'
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { isSluiceError, SluiceError } from '../../src/errors/index.ts'
import type { Header, IsolationLevel, LogRecord } from '../../src/log/contract.ts'
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.ts'
import { TRANSACTIONS_TOPIC } from '../../src/log/embedded/internal-topics.ts'
import { ATTR_CONTROL, lastOffsetOf, peekBatchSize, readHeader } from '../../src/log/embedded/record-batch.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { prng } from './fixtures/crash-records.ts'

const SEED = Number(process.env.SLUICE_CORRUPTION_SEED ?? 20_261_124)
const TOPIC = 'damaged'
const SEGMENT_BYTES = 4096
const INDEX_INTERVAL = 256
const T0 = 1_700_000_000_000

type Kind = 'plain' | 'committed' | 'aborted'

interface Written {
  offset: number
  key: Buffer
  value: Buffer
  headers: Header[]
  timestamp: number
  kind: Kind
}

interface BatchInfo {
  /** Index of the segment in offset order; the last one is the active segment. */
  segment: number
  file: string
  pos: number
  size: number
  baseOffset: number
  lastOffset: number
  control: boolean
}

interface SegmentInfo {
  base: number
  file: string
  size: number
  batches: BatchInfo[]
}

interface Pristine {
  dir: string
  records: Map<number, Written>
  segments: SegmentInfo[]
  highWatermark: number
}

const tempDirs: string[] = []
after(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-corrupt-'))
  tempDirs.push(d)
  return d
}

const partitionDir = (dataDir: string, topic = TOPIC) => join(dataDir, 'topics', topic, '0')
const fileOf = (base: number, ext: string) => `${String(base).padStart(20, '0')}${ext}`

/** A virtual clock, so that markers get timestamps among those of the records and the time index means something. */
let clock = T0

function open(dataDir: string): Promise<EmbeddedLog> {
  return openEmbeddedLog({
    dataDir,
    fsync: { mode: 'os' },
    maintenanceIntervalMs: 0,
    indexIntervalBytes: INDEX_INTERVAL,
    now: () => clock,
  })
}

/** The batches of every segment file of a partition, read straight from the files. */
function layout(dir: string): SegmentInfo[] {
  const files = readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .sort()
  return files.map((file, segment) => {
    const buf = readFileSync(join(dir, file))
    const batches: BatchInfo[] = []
    for (let pos = 0; pos < buf.length; ) {
      const size = peekBatchSize(buf, pos)
      const h = readHeader(buf, pos)
      batches.push({
        segment,
        file,
        pos,
        size,
        baseOffset: h.baseOffset,
        lastOffset: lastOffsetOf(h),
        control: (h.attributes & ATTR_CONTROL) !== 0,
      })
      pos += size
    }
    return { base: Number.parseInt(file, 10), file, size: buf.length, batches }
  })
}

/**
 * Writes the log every test damages a copy of: one partition of small segments with plain batches, committed and
 * aborted transactions (one aborted transaction spans a roll), out-of-order timestamps, and an active segment that
 * holds plain batches and both kinds of markers.
 */
async function buildPristine(): Promise<Pristine> {
  const dir = tempDir()
  const log = await open(dir)
  await log.admin().createTopic(TOPIC, { partitions: 1, config: { 'segment.bytes': SEGMENT_BYTES } })
  const rand = prng(7)
  const records = new Map<number, Written>()
  const plain = log.producer()
  const txn = log.producer({ transactionalId: 'damaged-txn' })
  await txn.initTransactions()
  let seq = 0
  const send = async (producer: typeof plain, kind: Kind, n: number) => {
    clock = T0 + seq * 10
    const batch = Array.from({ length: n }, () => {
      const s = seq++
      return {
        key: Buffer.from(`k${s}`),
        value: Buffer.from(`v${s}:${'abcdefghij'.repeat(2 + Math.floor(rand() * 15))}`),
        headers: s % 3 === 0 ? [] : ([['h', Buffer.from(String(s))]] as Header[]),
        timestamp: T0 + s * 10 + Math.floor(rand() * 60) - 30,
        kind,
      }
    })
    const md = await producer.send(batch.map((r) => ({ topic: TOPIC, partition: 0, ...r })))
    for (const [i, m] of md.entries()) records.set(m.offset, { ...batch[i], offset: m.offset })
  }
  const transaction = async (kind: 'committed' | 'aborted', sends: number) => {
    txn.beginTransaction()
    for (let i = 0; i < sends; i++) await send(txn, kind, 1 + Math.floor(rand() * 3))
    if (kind === 'committed') await txn.commitTransaction()
    else await txn.abortTransaction()
  }
  for (let step = 0; step < 60; step++) {
    const x = rand()
    if (x < 0.6) await send(plain, 'plain', 1 + Math.floor(rand() * 4))
    else await transaction(x < 0.85 ? 'committed' : 'aborted', 1 + Math.floor(rand() * 3))
    if (step === 30) await transaction('aborted', 12) // about two segments' worth: it spans a roll
  }
  log.partition(TOPIC, 0).roll()
  for (const step of [
    'plain',
    'plain',
    'committed',
    'plain',
    'aborted',
    'plain',
    'committed',
    'plain',
  ] as const) {
    if (step === 'plain') await send(plain, 'plain', 1 + Math.floor(rand() * 3))
    else await transaction(step, 2)
  }
  const highWatermark = log.partition(TOPIC, 0).highWatermark
  await log.close()
  clock = T0 + seq * 10 + 1000
  const segments = layout(partitionDir(dir))
  assert.ok(segments.length >= 6, `the sample log should have several segments, has ${segments.length}`)
  const active = segments.at(-1)!
  assert.ok(active.batches.filter((b) => b.control).length >= 3, 'the active segment should hold markers')
  // with one transactional producer, aborted data on both sides of a roll and no marker between is one transaction
  const spansRoll = segments.some((s, i) => {
    const last = s.batches.at(-1)!
    const first = segments[i + 1]?.batches[0]
    return (
      first !== undefined &&
      !last.control &&
      !first.control &&
      records.get(last.baseOffset)?.kind === 'aborted' &&
      records.get(first.baseOffset)?.kind === 'aborted'
    )
  })
  assert.ok(spansRoll, 'an aborted transaction should span a roll')
  return { dir, records, segments, highWatermark }
}

let pristine: Pristine

/** A fresh copy of the pristine log to damage. */
function copy(): string {
  const d = tempDir()
  cpSync(pristine.dir, d, { recursive: true })
  return d
}

function flip(path: string, pos: number, mask: number): void {
  const buf = readFileSync(path)
  buf[pos] ^= mask
  writeFileSync(path, buf)
}

function batchAt(segment: SegmentInfo, pos: number): BatchInfo {
  const b = segment.batches.find((x) => x.pos <= pos && pos < x.pos + x.size)
  assert.ok(b, `no batch at byte ${pos}`)
  return b
}

interface ReadOutcome {
  records: LogRecord[]
  errors: SluiceError[]
}

/**
 * Reads the whole partition one batch per poll. A SluiceError is collected and, with `skipDamage`, reading goes on
 * from the next segment; any other error fails the test.
 */
async function readAll(
  log: EmbeddedLog,
  isolation: IsolationLevel,
  skipDamage = false,
): Promise<ReadOutcome> {
  const consumer = log.consumer({ isolationLevel: isolation, maxBytesPerPartition: 1 })
  const tp = { topic: TOPIC, partition: 0 }
  const p = log.partition(TOPIC, 0)
  const end = isolation === 'read_committed' ? p.lastStableOffset : p.highWatermark
  await consumer.assign([tp])
  await consumer.seek(tp, 'earliest')
  const out: ReadOutcome = { records: [], errors: [] }
  while (consumer.position(tp)! < end) {
    const at = consumer.position(tp)!
    try {
      const records = await consumer.poll()
      for (const r of records) out.records.push(r)
      assert.ok(
        records.length > 0 || consumer.position(tp)! > at,
        `${isolation} reader is stuck at offset ${at} (the log ends at ${end}): polls return nothing and no error`,
      )
    } catch (err) {
      if (!(err instanceof SluiceError)) throw err
      out.errors.push(err)
      const next = p.segments.find((s) => s.baseOffset > at)
      if (!skipDamage || next === undefined) break
      await consumer.seek(tp, next.baseOffset)
    }
  }
  await consumer.close()
  return out
}

/** Every record read must be the one written at its offset; read_committed must never return aborted data. */
function assertWritten(records: readonly LogRecord[], isolation: IsolationLevel, label: string): void {
  let previous = -1
  for (const r of records) {
    assert.ok(r.offset > previous, `${label}: offset ${r.offset} read after ${previous}`)
    previous = r.offset
    const want = pristine.records.get(r.offset)
    assert.ok(want, `${label}: read a record at offset ${r.offset}, where none was written`)
    const what = `${label}: record at offset ${r.offset}`
    assert.ok(
      r.key !== null && want.key.equals(r.key),
      `${what} has key ${r.key?.toString()}, not ${want.key}`,
    )
    assert.ok(r.value !== null && want.value.equals(r.value), `${what} has a different value`)
    assert.equal(r.timestamp, want.timestamp, `${what} has a different timestamp`)
    assert.deepEqual(
      r.headers.map(([k, v]) => [k, v.toString('hex')]),
      want.headers.map(([k, v]) => [k, v.toString('hex')]),
      `${what} has different headers`,
    )
    if (isolation === 'read_committed')
      assert.notEqual(
        want.kind,
        'aborted',
        `${what} is from an aborted transaction, yet read_committed returns it`,
      )
  }
}

/** The offsets that must be readable: written below `end`, within `keep`, and visible at this isolation level. */
function expectedOffsets(
  isolation: IsolationLevel,
  end: number,
  keep: (offset: number) => boolean,
): number[] {
  return [...pristine.records.values()]
    .filter(
      (r) => r.offset < end && keep(r.offset) && (isolation === 'read_uncommitted' || r.kind !== 'aborted'),
    )
    .map((r) => r.offset)
    .sort((a, b) => a - b)
}

function assertComplete(records: readonly LogRecord[], expected: readonly number[], label: string): void {
  const got = new Set(records.map((r) => r.offset))
  const missing = expected.filter((o) => !got.has(o))
  assert.deepEqual(missing, [], `${label}: written records are missing`)
}

/** Reads everything at both isolation levels and requires exactly the written records below the end. */
async function assertIntact(log: EmbeddedLog, label: string, end = pristine.highWatermark): Promise<void> {
  const p = log.partition(TOPIC, 0)
  for (const isolation of ['read_uncommitted', 'read_committed'] as const) {
    const { records, errors } = await readAll(log, isolation)
    assert.deepEqual(
      errors.map((e) => `${e.code}: ${e.message}`),
      [],
      `${label}: ${isolation} read failed`,
    )
    assertWritten(records, isolation, `${label} (${isolation})`)
    const limit = isolation === 'read_committed' ? Math.min(end, p.lastStableOffset) : end
    assertComplete(
      records,
      expectedOffsets(isolation, limit, () => true),
      `${label} (${isolation})`,
    )
  }
}

/** Timestamps to look up: each written one and its neighbours, and beyond both ends. */
function probeTimestamps(): number[] {
  const ts = [...pristine.records.values()].map((r) => r.timestamp)
  const probes = new Set<number>([Math.min(...ts) - 1000, Math.max(...ts) + 1000])
  for (const t of ts) for (const d of [-1, 0, 1]) probes.add(t + d)
  return [...probes].sort((a, b) => a - b)
}

/** listOffsets by timestamp: the first offset below `end` whose record has a timestamp >= the one asked, else the HW. */
async function assertTimeLookups(
  log: EmbeddedLog,
  end: number,
  label: string,
  allowCorrupt = false,
): Promise<void> {
  const admin = log.admin()
  const hw = log.partition(TOPIC, 0).highWatermark
  const written = [...pristine.records.values()].filter((r) => r.offset < end)
  for (const t of probeTimestamps()) {
    const hits = written.filter((r) => r.timestamp >= t).map((r) => r.offset)
    const want = hits.length === 0 ? hw : Math.min(...hits)
    let got: number
    try {
      got = await admin.listOffsets(TOPIC, 0, { timestamp: t })
    } catch (err) {
      if (allowCorrupt && isSluiceError(err, 'SLUICE_ERR_CORRUPT_RECORD')) continue
      throw err
    }
    assert.equal(got, want, `${label}: listOffsets by timestamp ${t}`)
  }
}

/**
 * After damage to the active segment: recovery must cut the log exactly at the first damaged batch, keep all before
 * it, accept appends at the cut and survive another restart.
 */
async function assertCutAt(dataDir: string, cut: BatchInfo | undefined, tornBytes: number, label: string) {
  const end = cut?.baseOffset ?? pristine.highWatermark
  let log = await open(dataDir)
  try {
    const p = log.partition(TOPIC, 0)
    assert.equal(p.highWatermark, end, `${label}: the log should end where the damage starts`)
    assert.equal(p.recoveredTruncatedBytes, tornBytes, `${label}: bytes cut by recovery`)
    await assertIntact(log, label, end)
    await assertTimeLookups(log, end, label)
    const md = await log.producer().send(
      [0, 1, 2].map((i) => ({
        topic: TOPIC,
        partition: 0,
        value: Buffer.from(`after-${i}`),
        timestamp: T0 + i,
      })),
    )
    assert.deepEqual(
      md.map((m) => m.offset),
      [end, end + 1, end + 2],
      `${label}: appends continue at the cut`,
    )
  } finally {
    await log.close()
  }
  log = await open(dataDir)
  try {
    const p = log.partition(TOPIC, 0)
    assert.equal(p.highWatermark, end + 3, `${label}: after a second restart`)
    assert.equal(p.recoveredTruncatedBytes, 0, `${label}: a clean restart cuts nothing`)
    const { records, errors } = await readAll(log, 'read_uncommitted')
    assert.deepEqual(errors, [])
    assertWritten(
      records.filter((r) => r.offset < end),
      'read_uncommitted',
      `${label} (after restart)`,
    )
    assert.deepEqual(
      records.filter((r) => r.offset >= end).map((r) => [r.offset, r.value?.toString()]),
      [0, 1, 2].map((i) => [end + i, `after-${i}`]),
    )
  } finally {
    await log.close()
  }
}

/** Opens the damaged log expecting either a SluiceError or a log that reads back correctly. */
async function openOrRefuse(dataDir: string, label: string): Promise<EmbeddedLog | SluiceError> {
  try {
    return await open(dataDir)
  } catch (err) {
    assert.ok(
      err instanceof SluiceError,
      `${label}: opening failed with a ${(err as Error)?.name} instead of a SluiceError: ${(err as Error)?.message}`,
    )
    return err
  }
}

const fcParams = (numRuns: number) => ({ seed: SEED, numRuns, endOnFailure: true })

describe(`embedded log with damaged files (seed ${SEED})`, { concurrency: false }, () => {
  before(async () => {
    pristine = await buildPristine()
  })

  it('reads the undamaged sample log back exactly', async () => {
    const log = await open(copy())
    try {
      await assertIntact(log, 'pristine')
      await assertTimeLookups(log, pristine.highWatermark, 'pristine')
    } finally {
      await log.close()
    }
  })

  it('cuts a torn tail of the active segment, keeps what is before it, and continues at the cut', async () => {
    const active = pristine.segments.at(-1)!
    const lastBatch = active.batches.at(-1)!
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: 1, max: active.size - 1 }),
          fc.integer({ min: lastBatch.pos + 1, max: active.size - 1 }),
        ),
        async (length) => {
          const dataDir = copy()
          truncateSync(join(partitionDir(dataDir), active.file), length)
          const torn = active.batches.find((b) => b.pos < length && length < b.pos + b.size)
          const cut = torn ?? active.batches.find((b) => b.pos === length)
          await assertCutAt(dataDir, cut, torn === undefined ? 0 : length - torn.pos, `cut at byte ${length}`)
        },
      ),
      fcParams(40),
    )
  })

  it('cuts the active segment at a batch with a flipped byte, and keeps everything before it', async () => {
    const active = pristine.segments.at(-1)!
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: active.size - 1 }),
        fc.integer({ min: 1, max: 255 }),
        async (pos, mask) => {
          const dataDir = copy()
          flip(join(partitionDir(dataDir), active.file), pos, mask)
          const damaged = batchAt(active, pos)
          await assertCutAt(dataDir, damaged, active.size - damaged.pos, `byte ${pos} ^ ${mask}`)
        },
      ),
      fcParams(40),
    )
  })

  it('cuts the active segment at a batch whose base offset was flipped (a field outside the CRC)', async () => {
    const active = pristine.segments.at(-1)!
    const damaged = active.batches[2]
    for (const [byte, mask] of [
      [7, 0x01],
      [7, 0x80],
      [6, 0x10],
      [4, 0x40],
    ]) {
      const dataDir = copy()
      flip(join(partitionDir(dataDir), active.file), damaged.pos + byte, mask)
      await assertCutAt(dataDir, damaged, active.size - damaged.pos, `base offset byte ${byte} ^ ${mask}`)
    }
  })

  /** Reads a log whose sealed segment `damaged` holds a flipped byte in `batch`. */
  async function assertSealedDamage(dataDir: string, batch: BatchInfo, label: string): Promise<void> {
    const log = await open(dataDir)
    try {
      assert.equal(log.partition(TOPIC, 0).highWatermark, pristine.highWatermark, `${label}: nothing is cut`)
      for (const isolation of ['read_uncommitted', 'read_committed'] as const) {
        const { records, errors } = await readAll(log, isolation, true)
        const what = `${label} (${isolation})`
        assertWritten(records, isolation, what)
        assert.ok(
          errors.length > 0,
          `${what}: the damaged batch at offset ${batch.baseOffset} was read without error`,
        )
        for (const e of errors) {
          assert.equal(e.code, 'SLUICE_ERR_CORRUPT_RECORD', `${what}: ${e.message}`)
          assert.ok(e.message.includes(batch.file), `${what}: the error should name the file: ${e.message}`)
        }
        // everything outside the damaged segment, and everything before the damaged batch in it, is still there
        const nextBase = pristine.segments[batch.segment + 1].base
        const elsewhere = (o: number) => o < batch.baseOffset || o >= nextBase
        assertComplete(records, expectedOffsets(isolation, pristine.highWatermark, elsewhere), what)
      }
      await assertTimeLookups(log, pristine.highWatermark, label, true)
    } finally {
      await log.close()
    }
  }

  it('reports SLUICE_ERR_CORRUPT_RECORD for a flipped byte in a sealed segment, and reads the rest', async () => {
    const sealed = pristine.segments.slice(0, -1)
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 0, max: sealed.length - 1 })
          .chain((i) =>
            fc.tuple(
              fc.constant(i),
              fc.integer({ min: 0, max: sealed[i].size - 1 }),
              fc.integer({ min: 1, max: 255 }),
            ),
          ),
        async ([i, pos, mask]) => {
          const dataDir = copy()
          flip(join(partitionDir(dataDir), sealed[i].file), pos, mask)
          await assertSealedDamage(dataDir, batchAt(sealed[i], pos), `segment ${i} byte ${pos} ^ ${mask}`)
        },
      ),
      fcParams(40),
    )
  })

  it('reads the intact batch just before a damaged one in a sealed segment', async () => {
    const segment = pristine.segments[1]
    const damaged = segment.batches[3]
    const dataDir = copy()
    // a byte of the last record's value: only the CRC can tell
    flip(join(partitionDir(dataDir), segment.file), damaged.pos + damaged.size - 2, 0x20)
    await assertSealedDamage(dataDir, damaged, 'segment 1, a value byte of its fourth batch')
  })

  it('does not cut a damaged sealed segment when its indexes are rebuilt', async () => {
    const segment = pristine.segments[1]
    const damaged = segment.batches[3]
    const dataDir = copy()
    const path = join(partitionDir(dataDir), segment.file)
    flip(path, damaged.pos + damaged.size - 2, 0x20)
    unlinkSync(join(partitionDir(dataDir), fileOf(segment.base, '.timeindex')))
    // rebuilding the indexes scans the segment; the batches after the damage are intact and must stay on disk
    await assertSealedDamage(dataDir, damaged, 'segment 1 with a damaged batch and no time index')
    assert.equal(statSync(path).size, segment.size, 'the damaged sealed segment was truncated')
  })

  it('reports SLUICE_ERR_CORRUPT_RECORD for a flipped base offset in a sealed segment', async () => {
    const segment = pristine.segments[1]
    const damaged = segment.batches[1]
    for (const [byte, mask] of [
      [7, 0x01],
      [7, 0x80],
      [5, 0x02],
    ]) {
      const dataDir = copy()
      flip(join(partitionDir(dataDir), segment.file), damaged.pos + byte, mask)
      await assertSealedDamage(dataDir, damaged, `segment 1, base offset byte ${byte} ^ ${mask}`)
    }
  })

  it('rebuilds deleted offset and time indexes', async () => {
    const dataDir = copy()
    const dir = partitionDir(dataDir)
    for (const n of readdirSync(dir))
      if (n.endsWith('.index') || n.endsWith('.timeindex')) unlinkSync(join(dir, n))
    const log = await open(dataDir)
    try {
      await assertIntact(log, 'indexes deleted')
      await assertTimeLookups(log, pristine.highWatermark, 'indexes deleted')
    } finally {
      await log.close()
    }
    for (const s of pristine.segments) {
      assert.ok(statSync(join(dir, fileOf(s.base, '.index'))).size > 0, `${s.file}: offset index rebuilt`)
      assert.ok(statSync(join(dir, fileOf(s.base, '.timeindex'))).size > 0, `${s.file}: time index rebuilt`)
    }
  })

  it('rebuilds garbled offset and time indexes', async () => {
    const garble = fc.oneof(
      fc.record({
        kind: fc.constant('random' as const),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 200 }),
      }),
      fc.record({ kind: fc.constant('truncate' as const), keep: fc.integer({ min: 0, max: 1000 }) }),
      fc.record({ kind: fc.constant('zero' as const) }),
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
    )
    const files = pristine.segments.flatMap((s) => [fileOf(s.base, '.index'), fileOf(s.base, '.timeindex')])
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...files), garble), { minLength: 1, maxLength: 6 }),
        async (damage) => {
          const dataDir = copy()
          for (const [file, g] of damage) {
            const path = join(partitionDir(dataDir), file)
            const buf = readFileSync(path)
            if (g.kind === 'random') writeFileSync(path, g.bytes)
            else if (g.kind === 'truncate') truncateSync(path, Math.min(g.keep, buf.length))
            else if (g.kind === 'zero') writeFileSync(path, Buffer.alloc(buf.length))
            else if (buf.length > 0) flip(path, g.at % buf.length, g.mask)
          }
          const log = await open(dataDir)
          try {
            const label = `garbled ${damage.map(([f, g]) => `${f}:${g.kind}`).join(', ')}`
            await assertIntact(log, label)
            await assertTimeLookups(log, pristine.highWatermark, label)
          } finally {
            await log.close()
          }
        },
      ),
      fcParams(30),
    )
  })

  it('reads correctly when an offset index entry points inside a batch', async () => {
    const segment = pristine.segments[1]
    const dataDir = copy()
    const path = join(partitionDir(dataDir), fileOf(segment.base, '.index'))
    const index = readFileSync(path)
    assert.ok(index.length >= 16, 'the sample segment should have two or more index entries')
    // the second entry keeps its offset, but its position moves a few bytes into the batch: still ordered and in range
    index.writeUInt32BE(index.readUInt32BE(12) + 3, 12)
    writeFileSync(path, index)
    const log = await open(dataDir)
    try {
      await assertIntact(log, 'offset index entry inside a batch')
    } finally {
      await log.close()
    }
  })

  it('answers time lookups correctly when a time index entry names a later offset', async () => {
    const segment = pristine.segments[1]
    const dataDir = copy()
    const path = join(partitionDir(dataDir), fileOf(segment.base, '.timeindex'))
    const index = readFileSync(path)
    assert.ok(index.length >= 24, 'the sample segment should have two or more time index entries')
    // the first entry keeps its timestamp but now names an offset after the second entry's, which no intact time
    // index has (offsets grow with timestamps)
    index.writeUInt32BE(index.readUInt32BE(20) + 1, 8)
    writeFileSync(path, index)
    const log = await open(dataDir)
    try {
      await assertTimeLookups(log, pristine.highWatermark, 'time index entry with a later offset')
    } finally {
      await log.close()
    }
  })

  it('keeps a segment whose time index was zeroed from retention (a zeroed index says: nothing newer than 1970)', async () => {
    const dataDir = copy()
    const path = join(partitionDir(dataDir), fileOf(pristine.segments[0].base, '.timeindex'))
    writeFileSync(path, Buffer.alloc(statSync(path).size))
    const log = await open(dataDir)
    try {
      const report = await log.maintenance()
      assert.equal(report.segmentsDeleted, 0, 'retention deleted a segment whose records are all recent')
      assert.equal(log.partition(TOPIC, 0).logStartOffset, 0)
      await assertIntact(log, 'zeroed time index, after maintenance')
      await assertTimeLookups(log, pristine.highWatermark, 'zeroed time index')
    } finally {
      await log.close()
    }
  })

  it('rebuilds producer state when the snapshots are deleted', async () => {
    const dataDir = copy()
    const dir = partitionDir(dataDir)
    for (const n of readdirSync(dir)) if (n.endsWith('.snapshot')) unlinkSync(join(dir, n))
    const log = await open(dataDir)
    try {
      await assertIntact(log, 'snapshots deleted')
      assert.equal(log.partition(TOPIC, 0).lastStableOffset, pristine.highWatermark)
    } finally {
      await log.close()
    }
  })

  for (const [name, damage] of [
    ['random bytes', (b: Buffer) => Buffer.from(b.map((_, i) => (i * 151 + 7) & 0xff))],
    ['a truncated JSON text', (b: Buffer) => b.subarray(0, Math.max(1, b.length >> 1))],
    ['an empty file', () => Buffer.alloc(0)],
  ] as const) {
    it(`recovers or refuses clearly when the active producer snapshot holds ${name}`, async () => {
      const dataDir = copy()
      const path = join(partitionDir(dataDir), fileOf(pristine.segments.at(-1)!.base, '.snapshot'))
      writeFileSync(path, damage(readFileSync(path)))
      const opened = await openOrRefuse(dataDir, `snapshot with ${name}`)
      if (opened instanceof SluiceError) {
        assert.ok(opened.message.includes('.snapshot'), `the error should name the file: ${opened.message}`)
        return
      }
      try {
        await assertIntact(opened, `snapshot with ${name}`)
      } finally {
        await opened.close()
      }
    })
  }

  for (const [name, damage] of [
    ['is deleted', (path: string) => unlinkSync(path)],
    ['is emptied', (path: string) => writeFileSync(path, '')],
    ['loses its last entry', (path: string) => truncateSync(path, Math.max(0, statSync(path).size - 24))],
    [
      'holds garbage',
      (path: string) => writeFileSync(path, Buffer.from(readFileSync(path).map((_, i) => i * 97))),
    ],
  ] as const) {
    it(`never shows aborted records to read_committed when aborted.txns ${name}`, async () => {
      const dataDir = copy()
      const path = join(partitionDir(dataDir), 'aborted.txns')
      assert.ok(statSync(path).size >= 48, 'the sample should have aborted transactions in sealed segments')
      damage(path)
      const opened = await openOrRefuse(dataDir, `aborted.txns ${name}`)
      if (opened instanceof SluiceError) return
      try {
        const { records, errors } = await readAll(opened, 'read_committed')
        assertWritten(records, 'read_committed', `aborted.txns ${name}`)
        if (errors.length === 0) {
          assertComplete(
            records,
            expectedOffsets('read_committed', pristine.highWatermark, () => true),
            name,
          )
        }
      } finally {
        await opened.close()
      }
    })
  }

  for (const [name, text] of [
    ['garbage', '\u0000\u00ff{{not json'],
    ['nothing (an empty file)', ''],
    ['a truncated JSON text', '{"partitions":1,"con'],
    ['JSON of the wrong shape', '{}'],
  ] as const) {
    it(`refuses clearly, and deletes nothing, when topic.json holds ${name}`, async () => {
      const dataDir = copy()
      const path = join(dataDir, 'topics', TOPIC, 'topic.json')
      const original = readFileSync(path)
      writeFileSync(path, text)
      const opened = await openOrRefuse(dataDir, `topic.json with ${name}`)
      if (opened instanceof SluiceError) {
        assert.ok(opened.message.includes('topic.json'), `the error should name the file: ${opened.message}`)
      } else {
        try {
          const { partitions } = await opened.admin().describeTopic(TOPIC)
          assert.equal(
            partitions.length,
            1,
            `topic.json with ${name}: the log opened, but lost the topic's partition`,
          )
          await assertIntact(opened, `topic.json with ${name}`)
        } finally {
          await opened.close()
        }
      }
      // the data survived the attempt: with its metadata back, the topic reads as before
      assert.ok(
        existsSync(join(partitionDir(dataDir), pristine.segments[0].file)),
        'segment files were deleted',
      )
      writeFileSync(path, original)
      const log = await open(dataDir)
      try {
        await assertIntact(log, `topic.json restored after ${name}`)
      } finally {
        await log.close()
      }
    })
  }

  it('survives a torn transaction log: user data reads back whole', async () => {
    const sample = layout(partitionDir(pristine.dir, TRANSACTIONS_TOPIC))
    const active = sample.at(-1)!
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: active.size - 1 }), async (length) => {
        const dataDir = copy()
        truncateSync(join(partitionDir(dataDir, TRANSACTIONS_TOPIC), active.file), length)
        const log = await open(dataDir)
        try {
          await assertIntact(log, `transaction log cut at byte ${length}`)
        } finally {
          await log.close()
        }
      }),
      fcParams(15),
    )
  })

  it('does not leave read_committed stuck when recovery cuts off a COMMIT marker', async () => {
    const active = pristine.segments.at(-1)!
    const marker = active.batches.findLast(
      (b) => b.control && pristine.records.get(b.baseOffset - 1)?.kind === 'committed',
    )
    assert.ok(marker, 'the active segment should end a committed transaction')
    const dataDir = copy()
    truncateSync(join(partitionDir(dataDir), active.file), marker.pos + marker.size - 1)
    const log = await open(dataDir)
    try {
      const p = log.partition(TOPIC, 0)
      assert.equal(p.highWatermark, marker.baseOffset)
      // the transaction's data is there without its marker; the coordinator has long completed it
      assert.equal(
        p.lastStableOffset,
        p.highWatermark,
        'a transaction without its marker holds the last stable offset back for good: read_committed readers stop there',
      )
      const { records, errors } = await readAll(log, 'read_committed')
      assert.deepEqual(errors, [])
      assertWritten(records, 'read_committed', 'commit marker cut')
    } finally {
      await log.close()
    }
  })

  it('keeps an aborted transaction hidden when recovery cuts its marker and a later commit of the same producer', async () => {
    const active = pristine.segments.at(-1)!
    const marker = active.batches.find(
      (b) => b.control && pristine.records.get(b.baseOffset - 1)?.kind === 'aborted',
    )
    assert.ok(marker, 'the active segment should end an aborted transaction')
    assert.ok(
      active.batches.some((b) => b.control && b.pos > marker.pos),
      'a later transaction of the same producer should end in the active segment',
    )
    const dataDir = copy()
    truncateSync(join(partitionDir(dataDir), active.file), marker.pos + 1)
    for (const round of ['after recovery', 'after another restart']) {
      const log = await open(dataDir)
      try {
        const p = log.partition(TOPIC, 0)
        assert.equal(p.highWatermark, marker.baseOffset, `${round}: the log ends at the cut`)
        assert.equal(p.lastStableOffset, p.highWatermark, `${round}: no transaction is left open`)
        const { records, errors } = await readAll(log, 'read_committed')
        assert.deepEqual(errors, [])
        assertWritten(records, 'read_committed', `abort marker cut (${round})`)
        assertComplete(
          records,
          expectedOffsets('read_committed', marker.baseOffset, () => true),
          round,
        )
      } finally {
        await log.close()
      }
    }
  })
})
