// Compaction (cleanup.policy=compact) against a reference model: random keyed writes, tombstones and transactions
// on a partition of many tiny segments, a virtual clock, maintenance and restarts at random points. After every
// step the partition must hold exactly the records the model says survive, unchanged and at their offsets.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { LogProducer } from '../../../src/log/contract.ts'
import type { EmbeddedLog } from '../../../src/log/embedded/embedded-log.ts'
import type { PartitionLog } from '../../../src/log/embedded/partition-log.ts'
import {
  openLog,
  type PlainRecord,
  plain,
  plainAll,
  readPartition,
  useTempDirs,
  VirtualClock,
} from './helpers.ts'

const TOPIC = 'compacted'
// a few keys, the empty key and a binary one among them; most tests use the first four
const KEYS = [Buffer.from('a'), Buffer.from('b'), Buffer.alloc(0), Buffer.from([0xff, 0x00, 0x80])]
for (let i = 0; i < 8; i++) KEYS.push(Buffer.from(`key-${i}`))
const keyName = (k: Buffer) => k.toString('hex')

interface Item {
  key: number
  tombstone: boolean
  pad: number
  tsJitter: number
  header: boolean
}

type Op =
  | { kind: 'write'; items: Item[] }
  | { kind: 'txnSend'; items: Item[] }
  | { kind: 'txnEnd'; commit: boolean }
  | { kind: 'advance'; ms: number }
  | { kind: 'maintenance' }
  | { kind: 'reopen' }

const itemArb = (keys: number): fc.Arbitrary<Item> =>
  fc.record({
    key: fc.nat(keys - 1),
    tombstone: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))), // about one in four
    pad: fc.nat(40),
    tsJitter: fc.integer({ min: -500, max: 500 }),
    header: fc.boolean(),
  })

function opsArb(withTxns: boolean, keys = 4): fc.Arbitrary<Op[]> {
  const items = fc.array(itemArb(keys), { minLength: 1, maxLength: 6 })
  const ops: fc.WeightedArbitrary<Op>[] = [
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('write' as const), items }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(1500) }) },
    { weight: 3, arbitrary: fc.constant({ kind: 'maintenance' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  ]
  if (withTxns) {
    ops.push(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('txnSend' as const), items }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('txnEnd' as const), commit: fc.boolean() }) },
    )
  }
  return fc.array(fc.oneof(...ops), { minLength: 1, maxLength: 60, size: 'medium' })
}

interface Written {
  offset: number
  key: Buffer
  value: Buffer | null
  timestamp: number
  headers: [string, Buffer][]
  /** Transaction number, or -1 outside transactions. */
  txn: number
}

/** What a compacted partition must hold, and why. */
class Model {
  readonly written = new Map<number, Written>()
  /** Records that must be in the log now. */
  readonly present = new Map<number, Written>()
  readonly txnStatus = new Map<number, 'open' | 'committed' | 'aborted'>()
  /** Time of the first cleaning that kept each tombstone: its delete horizon is this + delete.retention.ms. */
  readonly tombstoneCleanedAt = new Map<number, number>()
  /** Every offset below this has been through at least one compaction. */
  cleanedUpTo = 0
  readonly deleteRetentionMs: number

  constructor(deleteRetentionMs: number) {
    this.deleteRetentionMs = deleteRetentionMs
  }

  add(w: Written): void {
    this.written.set(w.offset, w)
    this.present.set(w.offset, w)
  }

  aborted(w: Written): boolean {
    return w.txn >= 0 && this.txnStatus.get(w.txn) === 'aborted'
  }

  /** Latest offset per key among records below `lso` that are not aborted: what compaction keeps. */
  latest(records: Iterable<Written>, lso: number): Map<string, number> {
    const out = new Map<string, number>()
    for (const w of [...records].sort((a, b) => a.offset - b.offset)) {
      if (w.offset < lso && !this.aborted(w)) out.set(keyName(w.key), w.offset)
    }
    return out
  }

  /** Applies a compaction of everything below `cleanableEnd` at time `now`. */
  compact(cleanableEnd: number, lso: number, now: number): void {
    const latest = this.latest(this.present.values(), lso)
    for (const w of [...this.present.values()]) {
      if (w.offset >= cleanableEnd) continue
      if (this.aborted(w) || latest.get(keyName(w.key)) !== w.offset) {
        this.present.delete(w.offset)
        continue
      }
      if (w.value !== null) continue
      const cleanedAt = this.tombstoneCleanedAt.get(w.offset)
      if (cleanedAt === undefined) this.tombstoneCleanedAt.set(w.offset, now)
      else if (now >= cleanedAt + this.deleteRetentionMs) this.present.delete(w.offset)
    }
    this.cleanedUpTo = Math.max(this.cleanedUpTo, cleanableEnd)
  }

  expected(): PlainRecord[] {
    return [...this.present.values()].sort((a, b) => a.offset - b.offset).map(toPlain)
  }
}

function toPlain(w: Written): PlainRecord {
  return plain({ offset: w.offset, timestamp: w.timestamp, key: w.key, value: w.value, headers: w.headers })
}

/** End of the prefix of sealed segments a compaction may clean: those ending at or below the last stable offset. */
function cleanableEnd(p: PartitionLog): number {
  let end = p.logStartOffset
  for (const s of p.segments.slice(0, -1)) {
    if (s.nextOffset > p.lastStableOffset) break
    end = s.nextOffset
  }
  return end
}

/** Key → last value (hex) of a read, with tombstones and absence treated alike. */
function finalState(records: readonly PlainRecord[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const r of records) {
    if (r.value === null) out.delete(r.key ?? '')
    else out.set(r.key ?? '', r.value)
  }
  return out
}

class Harness {
  readonly dir: string
  readonly clock = new VirtualClock()
  readonly model: Model
  readonly segmentBytes: number
  log!: EmbeddedLog
  plainProducer!: LogProducer
  txnProducer: LogProducer | null = null
  openTxn = -1
  txnCount = 0
  writes = 0
  /** Also checks listOffsets by timestamp over the surviving records after every step. */
  checkTimestamps = false

  constructor(dir: string, segmentBytes: number, deleteRetentionMs: number) {
    this.dir = dir
    this.segmentBytes = segmentBytes
    this.model = new Model(deleteRetentionMs)
  }

  async start(): Promise<void> {
    this.log = await openLog(this.dir, this.clock)
    await this.log.admin().createTopic(TOPIC, {
      partitions: 1,
      config: {
        'cleanup.policy': 'compact',
        'segment.bytes': this.segmentBytes,
        'delete.retention.ms': this.model.deleteRetentionMs,
      },
    })
    this.plainProducer = this.log.producer()
  }

  get p(): PartitionLog {
    return this.log.partition(TOPIC, 0)
  }

  async send(producer: LogProducer, items: Item[], txn: number): Promise<void> {
    const records = items.map((it) => {
      const n = this.writes++
      return {
        key: KEYS[it.key],
        value: it.tombstone ? null : Buffer.from(`v${n}${'.'.repeat(it.pad)}`),
        timestamp: this.clock.t + it.tsJitter,
        headers: it.header ? ([['n', Buffer.from(String(n))]] as [string, Buffer][]) : [],
      }
    })
    const meta = await producer.send(records.map((r) => ({ topic: TOPIC, partition: 0, ...r })))
    meta.forEach((m, i) => {
      this.model.add({ offset: m.offset, txn, ...records[i] })
    })
  }

  async txn(): Promise<LogProducer> {
    if (this.txnProducer === null) {
      this.txnProducer = this.log.producer({ transactionalId: 'tx', transactionTimeoutMs: 1e12 })
      await this.txnProducer.initTransactions()
    }
    return this.txnProducer
  }

  async apply(op: Op): Promise<void> {
    switch (op.kind) {
      case 'write':
        await this.send(this.plainProducer, op.items, -1)
        return
      case 'txnSend': {
        const producer = await this.txn()
        if (this.openTxn < 0) {
          producer.beginTransaction()
          this.openTxn = this.txnCount++
          this.model.txnStatus.set(this.openTxn, 'open')
        }
        await this.send(producer, op.items, this.openTxn)
        return
      }
      case 'txnEnd':
        if (this.openTxn < 0) return
        if (op.commit) await this.txnProducer!.commitTransaction()
        else await this.txnProducer!.abortTransaction()
        this.model.txnStatus.set(this.openTxn, op.commit ? 'committed' : 'aborted')
        this.openTxn = -1
        return
      case 'advance':
        this.clock.advance(op.ms)
        return
      case 'maintenance':
        await this.maintenance()
        return
      case 'reopen':
        await this.reopen()
        return
    }
  }

  async maintenance(): Promise<void> {
    const committedBefore = plainAll(readPartition(this.p, { isolation: 'read_committed' }))
    await this.log.maintenance()
    const p = this.p
    const end = cleanableEnd(p)
    this.model.compact(end, p.lastStableOffset, this.clock.t)
    const all = plainAll(readPartition(p))
    const committedAfter = plainAll(readPartition(p, { isolation: 'read_committed' }))

    // aborted data below the cleaned end is gone; no cleaned key has an older duplicate
    for (const r of all) {
      if (r.offset >= end) continue
      const w = this.model.written.get(r.offset)!
      assert.ok(!this.model.aborted(w), `aborted record at ${r.offset} survived compaction`)
    }
    const latest = this.model.latest(this.model.written.values(), p.lastStableOffset)
    const stale = all.filter((r) => r.offset < end && latest.get(r.key ?? '') !== r.offset)
    assert.deepEqual(stale, [], `records below ${end} superseded by a later record of their key survived`)
    // tombstones past their delete horizon are gone
    for (const r of all) {
      const at = this.model.tombstoneCleanedAt.get(r.offset)
      if (
        r.value === null &&
        r.offset < end &&
        at !== undefined &&
        this.clock.t >= at + this.model.deleteRetentionMs
      ) {
        assert.fail(`tombstone at ${r.offset}, first cleaned at ${at}, is still there at ${this.clock.t}`)
      }
    }
    // read_committed sees a subset of what it saw, and the same final state
    const before = new Map(committedBefore.map((r) => [r.offset, r]))
    for (const r of committedAfter) assert.deepEqual(r, before.get(r.offset), `read_committed at ${r.offset}`)
    assert.deepEqual(finalState(committedAfter), finalState(committedBefore), 'read_committed final state')
  }

  async reopen(): Promise<void> {
    const before = plainAll(readPartition(this.p))
    await this.log.close()
    this.log = await openLog(this.dir, this.clock)
    // recovery aborts a transaction left open
    if (this.openTxn >= 0) this.model.txnStatus.set(this.openTxn, 'aborted')
    this.openTxn = -1
    this.txnProducer = null
    this.plainProducer = this.log.producer()
    assert.deepEqual(plainAll(readPartition(this.p)), before, 'reads after reopen')
  }

  /** The checks that hold after every step. */
  check(): void {
    const p = this.p
    const all = plainAll(readPartition(p))
    for (let i = 1; i < all.length; i++) assert.ok(all[i].offset > all[i - 1].offset, 'offsets increase')
    for (const r of all) {
      const w = this.model.written.get(r.offset)
      assert.ok(w !== undefined, `record at ${r.offset} was never written`)
      assert.deepEqual(r, toPlain(w), `record at ${r.offset} is what was written there`)
    }
    // the latest record of every live key is there
    const lso = p.lastStableOffset
    const latest = this.model.latest(this.model.written.values(), lso)
    const offsets = new Set(all.map((r) => r.offset))
    for (const [key, offset] of latest) {
      if (this.model.written.get(offset)!.value !== null)
        assert.ok(offsets.has(offset), `latest record of key ${key} at ${offset} is missing`)
    }
    // a full read_committed read ends in the reference state
    const reference = new Map<string, string>()
    for (const [key, offset] of latest) {
      const v = this.model.written.get(offset)!.value
      if (v !== null) reference.set(key, v.toString('hex'))
    }
    const committed = plainAll(readPartition(p, { isolation: 'read_committed' }))
    assert.deepEqual(finalState(committed), reference, 'final value per key')
    // and exactly the records the model keeps
    assert.deepEqual(all, this.model.expected(), 'records present')
    // finding offsets by timestamp still works over what survived
    if (this.checkTimestamps) {
      const survivors = this.model.expected()
      for (const r of survivors) {
        for (const t of [r.timestamp, r.timestamp + 1]) {
          const want = survivors.find((s) => s.timestamp >= t)?.offset ?? p.highWatermark
          assert.equal(p.offsetForTimestamp(t), want, `offset for timestamp ${t}`)
        }
      }
    }
  }

  async run(ops: Op[]): Promise<void> {
    await this.start()
    try {
      for (const op of ops) {
        await this.apply(op)
        this.check()
      }
      // finally: past every horizon, compaction leaves one record per live key and no tombstone in sealed segments
      if (this.openTxn >= 0) await this.apply({ kind: 'txnEnd', commit: true })
      await this.maintenance()
      this.clock.advance(this.model.deleteRetentionMs)
      await this.maintenance()
      this.check()
      const p = this.p
      const sealed = readPartition(p).filter((r) => r.offset < cleanableEnd(p))
      assert.deepEqual(
        sealed.filter((r) => r.value === null).map((r) => r.offset),
        [],
        'tombstones in sealed segments',
      )
      const keys = sealed.map((r) => r.key!.toString('hex'))
      assert.equal(new Set(keys).size, keys.length, 'one record per key in sealed segments')
      await this.reopen()
      this.check()
    } finally {
      await this.log.close()
    }
  }
}

const params = fc.record({
  segmentBytes: fc.integer({ min: 90, max: 600 }),
  deleteRetentionMs: fc.constantFrom(1, 400, 1000),
})

describe('compaction', () => {
  const tempDir = useTempDirs('compact', { inMemory: true })

  test('keeps exactly the latest record per key, tombstones until their horizon, across restarts', async () => {
    await fc.assert(
      fc.asyncProperty(params, opsArb(false), async ({ segmentBytes, deleteRetentionMs }, ops) => {
        await new Harness(tempDir(), segmentBytes, deleteRetentionMs).run(ops)
      }),
      { numRuns: 60 },
    )
  })

  test('with transactions: aborted data disappears, read_committed is unchanged, open transactions are left alone', async () => {
    await fc.assert(
      fc.asyncProperty(params, opsArb(true), async ({ segmentBytes, deleteRetentionMs }, ops) => {
        await new Harness(tempDir(), segmentBytes, deleteRetentionMs).run(ops)
      }),
      { numRuns: 60 },
    )
  })

  test('listOffsets by timestamp finds the first surviving record at or after it, also after a restart', async () => {
    await fc.assert(
      // more keys: more survivors per sealed segment, where a wrong max timestamp shows
      fc.asyncProperty(
        params,
        opsArb(false, KEYS.length),
        async ({ segmentBytes, deleteRetentionMs }, ops) => {
          const h = new Harness(tempDir(), segmentBytes, deleteRetentionMs)
          h.checkTimestamps = true
          await h.run(ops)
        },
      ),
      { numRuns: 40 },
    )
  })

  // What the property above finds, reduced to a plain regression test.
  test('a compacted segment keeps its max timestamp across a restart (listOffsets by timestamp)', async () => {
    const dir = tempDir()
    const clock = new VirtualClock()
    const t = clock.t
    let log = await openLog(dir, clock)
    try {
      await log.admin().createTopic(TOPIC, {
        partitions: 1,
        config: { 'cleanup.policy': 'compact', 'segment.bytes': 230 },
      })
      const producer = log.producer()
      const send = (key: string, ts: number) =>
        producer.send([
          { topic: TOPIC, partition: 0, key: Buffer.from(key), value: Buffer.from(key), timestamp: ts },
        ])
      await send('a', t) // 0 ┐
      await send('b', t) // 1 │ segment 0: three batches, the last with the latest timestamp
      await send('c', t + 1) // 2 ┘
      await send('b', t) // 3   active segment
      assert.deepEqual(
        log.partition(TOPIC, 0).segments.map((s) => s.baseOffset),
        [0, 3],
      )
      await log.maintenance() // rewrites segment 0 without offset 1
      assert.deepEqual(
        readPartition(log.partition(TOPIC, 0)).map((r) => r.offset),
        [0, 2, 3],
      )
      assert.equal(await log.admin().listOffsets(TOPIC, 0, { timestamp: t + 1 }), 2, 'before the restart')
      await log.close()
      log = await openLog(dir, clock)
      assert.equal(await log.admin().listOffsets(TOPIC, 0, { timestamp: t + 1 }), 2, 'after the restart')
      assert.equal(log.partition(TOPIC, 0).segments[0].maxTimestamp, t + 1, 'max timestamp of segment 0')
    } finally {
      await log.close()
    }
  })

  test('a worked example: overwrites, a delete, a horizon, a restart', async () => {
    const h = new Harness(tempDir(), 120, 1000)
    await h.start()
    try {
      const w = (key: number, tombstone = false): Item => ({
        key,
        tombstone,
        pad: 0,
        tsJitter: 0,
        header: false,
      })
      for (const item of [w(0), w(1), w(0), w(1, true), w(0), w(2)])
        await h.apply({ kind: 'write', items: [item] })
      assert.ok(h.p.segments.length >= 5, `many segments (${h.p.segments.length})`)
      await h.maintenance()
      h.check()
      // a=offset 4 (in a sealed segment), b's tombstone at 3 kept for now, '' at 5 in the active segment
      const values = () =>
        readPartition(h.p).map((r) => [r.offset, r.key!.toString(), r.value?.toString() ?? null])
      assert.deepEqual(values(), [
        [3, 'b', null],
        [4, 'a', 'v4'],
        [5, '', 'v5'],
      ])
      h.clock.advance(999)
      await h.maintenance()
      assert.equal(values().length, 3, 'tombstone kept before its horizon')
      h.clock.advance(1)
      await h.maintenance()
      assert.deepEqual(values(), [
        [4, 'a', 'v4'],
        [5, '', 'v5'],
      ])
      await h.reopen()
      h.check()
      assert.deepEqual(values(), [
        [4, 'a', 'v4'],
        [5, '', 'v5'],
      ])
      assert.equal(h.p.logStartOffset, 0)
      assert.equal(h.p.highWatermark, 6)
    } finally {
      await h.log.close()
    }
  })
})
