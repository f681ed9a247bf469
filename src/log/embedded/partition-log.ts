// One partition of the embedded log: its segments, producer state, open and aborted transactions, and the
// recovery that brings all of it back after a crash.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isSluiceError, SluiceError } from '../../errors/index.ts'
import type { IsolationLevel, LogRecord, TopicConfig } from '../contract.ts'
import { AbortedTxnIndex } from './aborted-txns.ts'
import { ProducerStateTable } from './producer-state.ts'
import {
  type BatchHeader,
  type BatchInput,
  CONTROL_ABORT,
  type CONTROL_COMMIT,
  controlType,
  decodeRecords,
  encodeControlBatch,
  encodeTransientBatch,
  isControl,
  isTransactional,
  lastOffsetOf,
  readHeader,
} from './record-batch.ts'
import { Segment, segmentFileName } from './segment.ts'

export interface ProducerInfo {
  producerId: number
  producerEpoch: number
  baseSequence: number
  transactional: boolean
}

export interface AppendResult {
  baseOffset: number
  lastOffset: number
  /** True when the batch was a retry of one already written: nothing new was appended. */
  duplicate: boolean
}

export interface ReadResult {
  records: LogRecord[]
  /** Where the next read should start: past every batch examined, including skipped control and aborted ones. */
  nextOffset: number
}

export interface PartitionOptions {
  indexIntervalBytes: number
  now: () => number
}

export type RecordInput = BatchInput['records'][number]

export class PartitionLog {
  readonly topic: string
  readonly partition: number
  readonly dir: string
  config: Required<TopicConfig>
  segments: Segment[] = []
  readonly producers = new ProducerStateTable()
  readonly aborted: AbortedTxnIndex
  readonly #options: PartitionOptions
  /** Truncated bytes found by recovery when the partition was opened, for logs and tests. */
  recoveredTruncatedBytes = 0

  private constructor(
    dir: string,
    topic: string,
    partition: number,
    config: Required<TopicConfig>,
    options: PartitionOptions,
  ) {
    this.dir = dir
    this.topic = topic
    this.partition = partition
    this.config = config
    this.#options = options
    this.aborted = new AbortedTxnIndex(join(dir, 'aborted.txns'))
  }

  static open(
    dir: string,
    topic: string,
    partition: number,
    config: Required<TopicConfig>,
    options: PartitionOptions,
  ): PartitionLog {
    mkdirSync(dir, { recursive: true })
    const log = new PartitionLog(dir, topic, partition, config, options)
    log.#load()
    return log
  }

  get name(): string {
    return `${this.topic}-${this.partition}`
  }

  get active(): Segment {
    return this.segments[this.segments.length - 1]
  }

  get logStartOffset(): number {
    return this.segments[0].baseOffset
  }

  /** One past the last offset written (the log end offset; with one replica it is also the high watermark). */
  get highWatermark(): number {
    return this.active.nextOffset
  }

  /** The first offset of the oldest open transaction, or the high watermark when none is open. */
  get lastStableOffset(): number {
    return Math.min(this.producers.firstOpenTxnOffset(), this.highWatermark)
  }

  get sizeBytes(): number {
    let total = 0
    for (const s of this.segments) total += s.size
    return total
  }

  #load(): void {
    const now = this.#options.now()
    const names = readdirSync(this.dir)
    // leftovers of an interrupted compaction or snapshot write are incomplete by construction
    for (const n of names)
      if (n.endsWith('.cleaned') || n.endsWith('.tmp')) rmSync(join(this.dir, n), { force: true })
    const bases = names
      .filter((n) => n.endsWith('.log'))
      .map((n) => Number.parseInt(n.slice(0, -4), 10))
      .filter((n) => Number.isSafeInteger(n))
      .sort((a, b) => a - b)
    if (bases.length === 0) bases.push(0)
    for (const base of bases)
      this.segments.push(new Segment(this.dir, base, this.#options.indexIntervalBytes, now))
    for (let i = 0; i < this.segments.length - 1; i++)
      this.segments[i].loadSealed(this.segments[i + 1].baseOffset)
    const active = this.active
    // producer state at the active segment's start, and the aborted transactions before it, come from their files
    // when both are intact; else both are rebuilt from the whole log (a crash between roll and snapshot, damage)
    const restored = this.#readSnapshot(active.baseOffset) && this.aborted.load(active.baseOffset)
    if (!restored) {
      this.producers.clear()
      this.aborted.clear()
      for (let i = 0; i < this.segments.length - 1; i++) this.#replaySealed(this.segments[i])
    }
    const snapshot = restored ? null : this.producers.snapshot()
    const report = active.recover()
    this.recoveredTruncatedBytes = report.truncatedBytes
    for (const { header, position } of report.batches) {
      if (isControl(header)) this.#replay(header, active.read(position, header.sizeInBytes), 0)
      else this.#replay(header, null, 0)
    }
    this.aborted.rewrite(active.baseOffset)
    // the state before the active segment, which the next open replays on top of it
    if (snapshot !== null) this.#writeSnapshot(active.baseOffset, snapshot)
  }

  /** Restores producer state from the snapshot of the segment at `baseOffset`; false if it is missing or damaged. */
  #readSnapshot(baseOffset: number): boolean {
    let text: string
    try {
      text = readFileSync(join(this.dir, segmentFileName(baseOffset, '.snapshot')), 'utf8')
    } catch {
      return false
    }
    return this.producers.restore(text)
  }

  /**
   * Replays a sealed segment into producer state and aborted transactions. A damaged segment is replayed up to the
   * damage: what it hid cannot be known, and reads that reach it fail anyway.
   */
  #replaySealed(segment: Segment): void {
    try {
      segment.scan(0, (h, buf, pos) => {
        this.#replay(h, buf, pos)
        return 'continue'
      })
    } catch (err) {
      if (!isSluiceError(err, 'SLUICE_ERR_CORRUPT_RECORD')) throw err
    }
  }

  /** Re-applies a batch found on disk to producer state and the aborted-transaction index. */
  #replay(h: BatchHeader, buf: Buffer | null, pos: number): void {
    if (h.producerId < 0) return
    if (isControl(h)) {
      const first = this.producers.onMarker(h.producerId, h.producerEpoch)
      if (buf !== null && controlType(buf, pos) === CONTROL_ABORT && first >= 0) {
        this.aborted.add({ producerId: h.producerId, firstOffset: first, lastOffset: h.baseOffset })
      }
      return
    }
    const count = h.lastOffsetDelta
    this.producers.onData(
      h.producerId,
      h.producerEpoch,
      {
        firstSeq: h.baseSequence,
        lastSeq: h.baseSequence < 0 ? -1 : h.baseSequence + h.recordCount - 1,
        baseOffset: h.baseOffset,
        lastOffset: h.baseOffset + count,
      },
      isTransactional(h),
    )
  }

  /** Writes the producer state at the start of the segment at `baseOffset` (a damaged one is rebuilt on open). */
  #writeSnapshot(baseOffset: number, snapshot = this.producers.snapshot()): void {
    const path = join(this.dir, segmentFileName(baseOffset, '.snapshot'))
    writeFileSync(`${path}.tmp`, snapshot)
    renameSync(`${path}.tmp`, path)
  }

  #maybeRoll(incomingBytes: number, now: number): void {
    const active = this.active
    if (active.size === 0) return
    const full = active.size + incomingBytes > this.config['segment.bytes']
    const old = now - active.createdAt >= this.config['segment.ms']
    if (full || old) this.roll()
  }

  /** Seals the active segment and starts a new one at the log end. */
  roll(): void {
    const active = this.active
    if (active.size === 0) return
    active.seal()
    const base = active.nextOffset
    this.#writeSnapshot(base)
    // before the new segment exists: an open that finds it also finds the index complete up to it
    this.aborted.rewrite(base)
    this.segments.push(new Segment(this.dir, base, this.#options.indexIntervalBytes, this.#options.now()))
  }

  append(records: readonly RecordInput[], producer?: ProducerInfo): AppendResult {
    const now = this.#options.now()
    if (this.config['cleanup.policy'] === 'compact' && records.some((r) => r.key == null)) {
      throw new SluiceError(
        'SLUICE_ERR_INVALID_ARGUMENT',
        `topic ${this.topic} is compacted (cleanup.policy=compact): every record needs a key, since compaction keeps the latest value per key`,
        { details: { topic: this.topic, partition: this.partition } },
      )
    }
    if (producer !== undefined && producer.producerId >= 0) {
      const lastSeq = producer.baseSequence < 0 ? -1 : producer.baseSequence + records.length - 1
      const check = this.producers.check(
        producer.producerId,
        producer.producerEpoch,
        producer.baseSequence,
        lastSeq,
        this.name,
      )
      if (check.kind === 'duplicate') {
        return { baseOffset: check.batch.baseOffset, lastOffset: check.batch.lastOffset, duplicate: true }
      }
    }
    const baseOffset = this.highWatermark
    // a reused buffer: nothing below encodes another batch before this one is written
    const batch = encodeTransientBatch({
      baseOffset,
      records,
      attributes: producer?.transactional ? 0x10 : 0,
      producerId: producer?.producerId ?? -1,
      producerEpoch: producer?.producerEpoch ?? -1,
      baseSequence: producer?.baseSequence ?? -1,
    })
    if (batch.length > this.config['max.message.bytes']) {
      throw new SluiceError(
        'SLUICE_ERR_RECORD_TOO_LARGE',
        `a batch of ${batch.length} bytes for ${this.name} exceeds max.message.bytes (${this.config['max.message.bytes']}); ` +
          'send fewer or smaller records, or raise max.message.bytes on the topic',
        { details: { topic: this.topic, partition: this.partition, bytes: batch.length } },
      )
    }
    this.#maybeRoll(batch.length, now)
    const h = readHeader(batch, 0)
    this.active.append(batch, h)
    if (producer !== undefined && producer.producerId >= 0) this.#replay(h, null, 0)
    return { baseOffset, lastOffset: lastOffsetOf(h), duplicate: false }
  }

  /** Ends a producer's transaction on this partition with a COMMIT or ABORT marker. */
  appendMarker(
    producerId: number,
    producerEpoch: number,
    type: typeof CONTROL_ABORT | typeof CONTROL_COMMIT,
  ): number {
    const now = this.#options.now()
    const offset = this.highWatermark
    const batch = encodeControlBatch(offset, type, producerId, producerEpoch, now)
    this.#maybeRoll(batch.length, now)
    const h = readHeader(batch, 0)
    this.active.append(batch, h)
    this.producers.bumpEpoch(producerId, producerEpoch)
    const first = this.producers.onMarker(producerId, producerEpoch)
    if (type === CONTROL_ABORT && first >= 0) {
      this.aborted.add({ producerId, firstOffset: first, lastOffset: offset })
    }
    return offset
  }

  /**
   * Ends a transaction whose marker recovery cut off (the coordinator decides the outcome), without writing a marker:
   * the log still ends where recovery cut it. Aborted, its data is covered up to the log end, which only it can
   * hold of its producer. persistProducerState() then makes this durable.
   */
  endOrphanTransaction(producerId: number, producerEpoch: number, commit: boolean): void {
    this.producers.bumpEpoch(producerId, producerEpoch)
    const first = this.producers.onMarker(producerId, producerEpoch)
    if (!commit && first >= 0)
      this.aborted.add({ producerId, firstOffset: first, lastOffset: this.highWatermark - 1 })
  }

  /**
   * Makes the current producer state and aborted transactions what the next open starts from: they become the
   * snapshot and index at the log end, rolling to a new segment there unless the active one is still empty.
   */
  persistProducerState(): void {
    if (this.active.size > 0) {
      this.roll()
      return
    }
    this.#writeSnapshot(this.active.baseOffset)
    this.aborted.rewrite(this.active.baseOffset)
  }

  #segmentIndexFor(offset: number): number {
    let lo = 0
    let hi = this.segments.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (this.segments[mid].baseOffset <= offset) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  checkOffset(offset: number): void {
    if (offset < this.logStartOffset || offset > this.highWatermark || !Number.isSafeInteger(offset)) {
      throw new SluiceError(
        'SLUICE_ERR_OFFSET_OUT_OF_RANGE',
        `offset ${offset} is outside ${this.name}, which holds offsets ${this.logStartOffset} to ` +
          `${this.highWatermark - 1}; seek to 'earliest' or 'latest'`,
        { details: { topic: this.topic, partition: this.partition, offset } },
      )
    }
  }

  /**
   * Reads records from `offset`, about `maxBytes` of batches (at least one batch when there is data). Under
   * read_committed it stops at the last stable offset and leaves out aborted transactions; control batches are
   * never returned as records.
   */
  read(offset: number, maxBytes: number, isolation: IsolationLevel): ReadResult {
    this.checkOffset(offset)
    const committed = isolation === 'read_committed'
    const upper = committed ? this.lastStableOffset : this.highWatermark
    const records: LogRecord[] = []
    let next = offset
    if (offset >= upper) return { records, nextOffset: next }
    const aborted = committed ? this.aborted.from(offset) : []
    const chunk = Math.min(Math.max(maxBytes, 64 * 1024), 8 * 1024 * 1024)
    let bytes = 0
    let stop = false
    for (let i = this.#segmentIndexFor(offset); i < this.segments.length && !stop; i++) {
      // nothing more fits, or nothing more is visible: the next segment is not even read (it may be damaged)
      if (next >= upper || (bytes > 0 && bytes >= maxBytes)) break
      const ended = this.segments[i].scan(
        next,
        (h, buf, pos) => {
          if (h.baseOffset >= upper || (bytes > 0 && bytes + h.sizeInBytes > maxBytes)) {
            stop = true
            return 'stop'
          }
          bytes += h.sizeInBytes
          if (!isControl(h) && !(aborted.length > 0 && isTransactional(h) && isAbortedBatch(aborted, h))) {
            decodeRecords(buf, pos, offset, records)
          }
          next = lastOffsetOf(h) + 1
          return 'continue'
        },
        chunk,
        maxBytes,
        bytes,
      )
      if (ended === 'stop') stop = true
      // a segment may end before its successor's base offset (compaction removed its tail)
      if (!stop && i + 1 < this.segments.length) next = Math.max(next, this.segments[i + 1].baseOffset)
    }
    return { records, nextOffset: Math.min(next, upper) }
  }

  /** The first offset whose record timestamp is >= `timestamp`, or the high watermark when there is none. */
  offsetForTimestamp(timestamp: number): number {
    for (const segment of this.segments) {
      // a damaged segment's max timestamp covers only what is before the damage: scan it, and fail there
      if (segment.maxTimestamp < timestamp && segment.damagedAt < 0) continue
      let found = -1
      segment.scan(segment.timeIndex.lookup(timestamp), (h, buf, pos) => {
        if (isControl(h) || h.maxTimestamp < timestamp) return 'continue'
        const out: LogRecord[] = []
        decodeRecords(buf, pos, 0, out)
        const hit = out.find((r) => r.timestamp >= timestamp)
        if (hit === undefined) return 'continue'
        found = hit.offset
        return 'stop'
      })
      if (found >= 0) return found
    }
    return this.highWatermark
  }

  dirtySegments(): Segment[] {
    return this.segments.filter((s) => s.dirty)
  }

  /** Resolves once everything written to the partition is on disk, also what a sync already running covers. */
  async sync(): Promise<void> {
    const work: Promise<void>[] = []
    for (const s of this.segments) if (s.dirty || s.flushing) work.push(s.sync())
    await Promise.all(work)
  }

  /** Deletes whole sealed segments past retention.ms or beyond retention.bytes. Returns how many went. */
  enforceRetention(now: number): number {
    if (this.config['cleanup.policy'] !== 'delete') return 0
    const retentionMs = this.config['retention.ms']
    const retentionBytes = this.config['retention.bytes']
    let total = this.sizeBytes
    let deleted = 0
    while (this.segments.length > 1) {
      const first = this.segments[0]
      // the newest record of a damaged segment is unknown: only size, or an operator, removes it
      const expired =
        retentionMs >= 0 &&
        first.damagedAt < 0 &&
        first.maxTimestamp >= 0 &&
        now - first.maxTimestamp > retentionMs
      const oversize = retentionBytes >= 0 && total - first.size >= retentionBytes
      if (!expired && !oversize) break
      total -= first.size
      first.delete()
      rmSync(join(this.dir, segmentFileName(first.baseOffset, '.snapshot')), { force: true })
      this.segments.shift()
      deleted++
    }
    if (deleted > 0) this.aborted.prune(this.logStartOffset)
    return deleted
  }

  /** Rolls an active segment older than segment.ms, so that time-based retention can reach its data. */
  rollIfOld(now: number): void {
    if (this.active.size > 0 && now - this.active.createdAt >= this.config['segment.ms']) this.roll()
  }

  /** Swaps sealed segment `i` for its rewritten file (compaction) and reloads it. */
  replaceSegment(i: number, cleanedPath: string): void {
    const old = this.segments[i]
    old.replaceWith(cleanedPath)
    const fresh = new Segment(this.dir, old.baseOffset, this.#options.indexIntervalBytes, this.#options.now())
    fresh.loadSealed(old.nextOffset)
    fresh.createdAt = old.createdAt
    this.segments[i] = fresh
  }

  close(): void {
    for (const s of this.segments) s.close()
  }

  /** Closes and removes all files of the partition. */
  destroy(): void {
    for (const s of this.segments) s.delete()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

function isAbortedBatch(
  aborted: readonly { producerId: number; firstOffset: number; lastOffset: number }[],
  h: BatchHeader,
): boolean {
  for (const a of aborted) {
    if (a.producerId === h.producerId && a.firstOffset <= h.baseOffset && h.baseOffset <= a.lastOffset)
      return true
  }
  return false
}
