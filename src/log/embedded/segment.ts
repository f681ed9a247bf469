// One segment of a partition: a log file of batches named by its base offset, with its offset and time indexes,
// and (once sealed) a checksum of those indexes, so that a restart trusts them only when they are intact.
import {
  closeSync,
  fdatasync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { crc32c } from '@node-rs/crc32'
import { isSluiceError, SluiceError } from '../../errors/index.ts'
import {
  type BatchHeader,
  checkBatch,
  LOG_OVERHEAD,
  lastOffsetOf,
  peekBatchSize,
  readHeader,
  readInt64,
  writeInt64,
} from './record-batch.ts'
import { OffsetIndex, TimeIndex } from './segment-index.ts'

/** Every file a segment may have, by extension. */
const SEGMENT_FILES = ['.log', '.index', '.timeindex', '.indexcrc']

// <base>.indexcrc, written at seal and after a rebuild (big endian):
//   0 log size int64 | 8 .index bytes uint32 | 12 .index crc32c | 16 .timeindex bytes uint32 | 20 .timeindex crc32c
//  24 crc32c of bytes [0, 24)
const CHECKSUM_SIZE = 28

export function segmentFileName(baseOffset: number, ext: string): string {
  return `${String(baseOffset).padStart(20, '0')}${ext}`
}

export interface RecoveryReport {
  validBytes: number
  truncatedBytes: number
  batches: { header: BatchHeader; position: number }[]
}

/** How a visitor of batches asks the scan to go on or stop. */
export type ScanResult = 'continue' | 'stop'

export class Segment {
  readonly baseOffset: number
  readonly dir: string
  #fd: number
  #size: number
  readonly offsetIndex: OffsetIndex
  readonly timeIndex: TimeIndex
  readonly #indexInterval: number
  #bytesSinceIndex = 0
  /** One past the last offset in this segment; equals baseOffset while empty. */
  nextOffset: number
  maxTimestamp = -1
  /** Wall-clock time of creation, for time-based rolling. */
  createdAt: number
  dirty = false
  /**
   * Byte position of the first batch of a sealed segment that failed its checks when the indexes were rebuilt, or
   * -1. Nothing after it is indexed; reads that reach it fail with SLUICE_ERR_CORRUPT_RECORD.
   */
  damagedAt = -1
  #sealed = false
  /** The last fdatasync started, while it runs: a sync finding nothing new to flush waits for it. */
  #flushing: Promise<void> | null = null

  constructor(dir: string, baseOffset: number, indexInterval: number, now: number) {
    this.dir = dir
    this.baseOffset = baseOffset
    this.nextOffset = baseOffset
    this.#indexInterval = indexInterval
    this.#fd = openSync(join(dir, segmentFileName(baseOffset, '.log')), 'a+')
    const st = fstatSync(this.#fd)
    this.#size = st.size
    // birth time where the filesystem records it; else the last write, which can only make a roll later
    this.createdAt = st.size === 0 ? now : Math.min(st.birthtimeMs > 0 ? st.birthtimeMs : st.mtimeMs, now)
    this.offsetIndex = new OffsetIndex(join(dir, segmentFileName(baseOffset, '.index')), baseOffset)
    this.timeIndex = new TimeIndex(join(dir, segmentFileName(baseOffset, '.timeindex')), baseOffset)
  }

  get size(): number {
    return this.#size
  }

  get path(): string {
    return join(this.dir, segmentFileName(this.baseOffset, '.log'))
  }

  /**
   * Opens a sealed segment holding offsets below `endOffset` (the next segment's base offset): trusts its indexes
   * when their checksum, recorded at seal, matches and they are consistent, and rebuilds them otherwise.
   */
  loadSealed(endOffset: number): void {
    this.#sealed = true
    this.nextOffset = endOffset
    const okOffsets = this.offsetIndex.load(this.#size, endOffset)
    const okTimes = this.timeIndex.load(endOffset)
    const okMax = this.#size === 0 || this.timeIndex.maxTimestamp >= 0
    if (okOffsets && okTimes && okMax && this.#checksumMatches()) {
      this.maxTimestamp = this.timeIndex.maxTimestamp
      return
    }
    this.rebuildIndexes()
  }

  /**
   * Rebuilds the indexes of a sealed segment from its batches. Never truncates: a sealed segment was fsynced whole,
   * so a bad batch is damage, and cutting there would silently drop the intact data after it. What comes before the
   * damage is indexed and `damagedAt` marks where it is; with no damage, the indexes get their seal entry and
   * checksum back, so the next restart trusts them.
   */
  rebuildIndexes(): void {
    const endOffset = this.nextOffset
    const { validBytes, lastOffset } = this.#rescan(false)
    this.nextOffset = endOffset
    this.damagedAt = validBytes < this.#size ? validBytes : -1
    if (this.damagedAt >= 0) return
    if (this.maxTimestamp >= 0) this.timeIndex.append(this.maxTimestamp, lastOffset)
    this.#writeChecksum()
  }

  /**
   * Scans every batch of the active segment, verifying CRCs and that offsets follow on from the segment's base
   * offset, and truncates the file at the first batch that is torn, corrupt or out of place: the tail of a write a
   * crash interrupted. Rebuilds both indexes.
   */
  recover(): RecoveryReport {
    const report = this.#rescan(true)
    const truncatedBytes = this.#size - report.validBytes
    if (truncatedBytes > 0) {
      ftruncateSync(this.#fd, report.validBytes)
      this.#size = report.validBytes
    }
    return { validBytes: report.validBytes, truncatedBytes, batches: report.batches }
  }

  /**
   * Indexes batches from the start of the file up to the first one that fails its checks. In the active segment
   * (`active`) batches must follow each other without a gap from the base offset; in a sealed one (which compaction
   * may have thinned) offsets must grow and stay below `nextOffset`.
   */
  #rescan(active: boolean): { validBytes: number; lastOffset: number; batches: RecoveryReport['batches'] } {
    const endOffset = active ? Number.POSITIVE_INFINITY : this.nextOffset
    this.offsetIndex.reset()
    this.timeIndex.reset()
    this.#bytesSinceIndex = 0
    this.maxTimestamp = -1
    this.nextOffset = this.baseOffset
    const batches: RecoveryReport['batches'] = []
    const chunkSize = 1 << 20
    let pos = 0
    let lastOffset = -1
    let buf = Buffer.alloc(0)
    let bufStart = 0
    while (pos < this.#size) {
      // make sure the batch at pos is entirely in buf
      let rel = pos - bufStart
      const need = peekBatchSize(buf, rel)
      if (need < 0 || rel + need > buf.length) {
        const len = Math.min(Math.max(chunkSize, need), this.#size - pos)
        buf = Buffer.allocUnsafe(len)
        readSync(this.#fd, buf, 0, len, pos)
        bufStart = pos
        rel = 0
      }
      if (checkBatch(buf, rel) !== 'ok') break
      const h = readHeader(buf, rel)
      const last = lastOffsetOf(h)
      if (last < h.baseOffset || last >= endOffset) break
      if (active ? h.baseOffset !== this.nextOffset : h.baseOffset < this.nextOffset) break
      if (active) batches.push({ header: h, position: pos })
      this.#index(h, pos)
      lastOffset = last
      pos += h.sizeInBytes
    }
    return { validBytes: pos, lastOffset, batches }
  }

  get #checksumPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, '.indexcrc'))
  }

  #checksumMatches(): boolean {
    let buf: Buffer
    try {
      buf = readFileSync(this.#checksumPath)
    } catch {
      return false
    }
    return (
      buf.length === CHECKSUM_SIZE &&
      buf.readUInt32BE(24) === crc32c(buf.subarray(0, 24)) &&
      readInt64(buf, 0) === this.#size &&
      buf.readUInt32BE(8) === this.offsetIndex.byteLength &&
      buf.readUInt32BE(12) === this.offsetIndex.crc &&
      buf.readUInt32BE(16) === this.timeIndex.byteLength &&
      buf.readUInt32BE(20) === this.timeIndex.crc
    )
  }

  /**
   * Records the checksum of both indexes. Not fsynced: if a power failure loses or tears it, the indexes are
   * rebuilt at the next open, which is all that a missing checksum costs.
   */
  #writeChecksum(): void {
    const buf = Buffer.alloc(CHECKSUM_SIZE)
    writeInt64(buf, 0, this.#size)
    buf.writeUInt32BE(this.offsetIndex.byteLength, 8)
    buf.writeUInt32BE(this.offsetIndex.crc, 12)
    buf.writeUInt32BE(this.timeIndex.byteLength, 16)
    buf.writeUInt32BE(this.timeIndex.crc, 20)
    buf.writeUInt32BE(crc32c(buf.subarray(0, 24)), 24)
    writeFileSync(this.#checksumPath, buf)
  }

  #index(h: BatchHeader, position: number): void {
    if (this.#bytesSinceIndex >= this.#indexInterval || position === 0) {
      this.offsetIndex.append(h.baseOffset, position)
      this.#bytesSinceIndex = 0
    }
    if (h.maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = h.maxTimestamp
      if (this.#bytesSinceIndex === 0) this.timeIndex.append(h.maxTimestamp, h.baseOffset)
    }
    this.#bytesSinceIndex += h.sizeInBytes
    this.nextOffset = lastOffsetOf(h) + 1
  }

  /** Appends an encoded batch (whose header has been read as `h`). */
  append(batch: Buffer, h: BatchHeader): void {
    const position = this.#size
    let written = 0
    try {
      while (written < batch.length) written += writeSync(this.#fd, batch, written, batch.length - written)
    } catch (err) {
      // leave no partial batch behind: a later append would otherwise follow garbage
      try {
        ftruncateSync(this.#fd, position)
      } catch {}
      throw new SluiceError('SLUICE_ERR_IO', `cannot write to ${this.path}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    this.#size += batch.length
    this.dirty = true
    this.#index(h, position)
  }

  /** Reads up to `length` bytes at `position` (fewer at the end of the file). */
  read(position: number, length: number): Buffer {
    const len = Math.max(0, Math.min(length, this.#size - position))
    const buf = Buffer.allocUnsafe(len)
    let got = 0
    while (got < len) {
      const n = readSync(this.#fd, buf, got, len - got, position + got)
      if (n === 0) break
      got += n
    }
    return got === len ? buf : buf.subarray(0, got)
  }

  /**
   * Calls `visit` for every CRC-checked batch whose last offset is >= `fromOffset`, with the buffer holding it and
   * its position in that buffer. A corrupt batch raises SLUICE_ERR_CORRUPT_RECORD. With `maxBytes`, the scan ends
   * before a batch that would take the visited bytes past it (the first one of a read is always visited), without
   * reading or checking that batch: a bounded read then costs one chunk, not two. `visitedBefore` counts the bytes
   * a read already visited in earlier segments. Returns 'stop' when the visitor or `maxBytes` ended the scan early,
   * 'continue' when it reached the end of the segment.
   */
  scan(
    fromOffset: number,
    visit: (h: BatchHeader, buf: Buffer, pos: number) => ScanResult,
    chunkBytes = 1 << 20,
    maxBytes = Number.POSITIVE_INFINITY,
    visitedBefore = 0,
  ): ScanResult {
    const start = fromOffset <= this.baseOffset ? 0 : this.offsetIndex.lookup(fromOffset)
    if (start === 0) return this.#scanFrom(0, fromOffset, visit, chunkBytes, maxBytes, visitedBefore)
    try {
      return this.#scanFrom(start, fromOffset, visit, chunkBytes, maxBytes, visitedBefore)
    } catch (err) {
      // the batch at an indexed position failed its check: the index entry may be what is wrong, not the log
      if (!isSluiceError(err, 'SLUICE_ERR_CORRUPT_RECORD') || err.details.position !== start) throw err
    }
    // nothing was visited yet; from the segment start, a real damage at `start` fails again
    let result: ScanResult
    try {
      result = this.#scanFrom(0, fromOffset, visit, chunkBytes, maxBytes, visitedBefore)
    } catch (err) {
      const position = isSluiceError(err) ? err.details.position : undefined
      if (typeof position === 'number' && position > start && this.#sealed) this.rebuildIndexes()
      throw err
    }
    // the scan went past `start` without finding a batch boundary there: the index was wrong
    if (this.#sealed) this.rebuildIndexes()
    return result
  }

  #scanFrom(
    start: number,
    fromOffset: number,
    visit: (h: BatchHeader, buf: Buffer, pos: number) => ScanResult,
    chunkBytes: number,
    maxBytes: number,
    visitedBefore: number,
  ): ScanResult {
    let pos = start
    // once a batch was visited, every later one would be too (offsets increase): only they count against maxBytes
    let visited = visitedBefore
    // the batch at an indexed position must be the one the entry names, at or before `fromOffset`
    let checkFirst = start > 0
    while (pos < this.#size) {
      const buf = this.read(pos, chunkBytes)
      let rel = 0
      while (rel < buf.length) {
        const size = peekBatchSize(buf, rel)
        if (size >= 0 && visited > 0 && visited + size > maxBytes) return 'stop'
        if (size < 0 || rel + size > buf.length) break
        const check = checkBatch(buf, rel)
        if (check !== 'ok') throw this.corruptError(pos + rel, check)
        const h = readHeader(buf, rel)
        if (checkFirst) {
          checkFirst = false
          if (h.baseOffset > fromOffset) throw this.corruptError(start, 'not the batch its index entry names')
        }
        if (lastOffsetOf(h) >= fromOffset) {
          visited += size
          if (visit(h, buf, rel) === 'stop') return 'stop'
        }
        rel += size
      }
      if (rel === 0) {
        // a single batch larger than the chunk: read exactly it
        const size = peekBatchSize(buf, 0)
        if (size < 0 || size > this.#size - pos) throw this.corruptError(pos, 'truncated')
        const whole = this.read(pos, size)
        const check = checkBatch(whole, 0)
        if (check !== 'ok') throw this.corruptError(pos, check)
        const h = readHeader(whole, 0)
        if (checkFirst) {
          checkFirst = false
          if (h.baseOffset > fromOffset) throw this.corruptError(start, 'not the batch its index entry names')
        }
        if (lastOffsetOf(h) >= fromOffset) {
          visited += size
          if (visit(h, whole, 0) === 'stop') return 'stop'
        }
        rel = size
      }
      pos += rel
    }
    return 'continue'
  }

  corruptError(position: number, what: string): SluiceError {
    return new SluiceError(
      'SLUICE_ERR_CORRUPT_RECORD',
      `batch at byte ${position} of ${this.path} is ${what} (CRC32C or framing check failed); the segment is ` +
        'damaged on disk: restore it from a replica or backup, or delete the partition data to start over',
      { details: { path: this.path, position } },
    )
  }

  /** Whether an fdatasync is running. */
  get flushing(): boolean {
    return this.#flushing !== null
  }

  /** Forces the log file to disk; indexes are rebuilt on recovery and need no fsync here. */
  sync(): Promise<void> {
    // nothing written since the last fdatasync started: that one covers everything, but may still be running
    if (!this.dirty) return this.#flushing ?? Promise.resolve()
    this.dirty = false
    const fd = this.#fd
    const flushing = new Promise<void>((resolve, reject) =>
      fdatasync(fd, (err) => {
        if (this.#flushing === flushing) this.#flushing = null
        if (err) {
          this.dirty = true
          reject(err)
        } else resolve()
      }),
    )
    this.#flushing = flushing
    return flushing
  }

  /** Seals the segment at roll: a final time index entry, everything forced to disk, and the indexes' checksum. */
  seal(): void {
    if (this.maxTimestamp >= 0) this.timeIndex.append(this.maxTimestamp, this.nextOffset - 1)
    fsyncSync(this.#fd)
    fsyncSync(this.offsetIndex.fd)
    fsyncSync(this.timeIndex.fd)
    this.#writeChecksum()
    this.dirty = false
    this.#sealed = true
  }

  close(): void {
    if (this.dirty) fsyncSync(this.#fd)
    closeSync(this.#fd)
    this.offsetIndex.close()
    this.timeIndex.close()
  }

  /** Closes and deletes the segment's files. */
  delete(): void {
    closeSync(this.#fd)
    this.offsetIndex.close()
    this.timeIndex.close()
    for (const ext of SEGMENT_FILES)
      rmSync(join(this.dir, segmentFileName(this.baseOffset, ext)), { force: true })
  }

  /**
   * Replaces this segment's file with a rewritten one (compaction). The rename is atomic: a crash leaves either
   * the old file or the new one. The caller reopens the segment afterwards.
   */
  replaceWith(cleanedPath: string): void {
    closeSync(this.#fd)
    this.offsetIndex.close()
    this.timeIndex.close()
    // indexes first: a crash before the rename leaves the old log without them, which rebuilds them
    for (const ext of ['.indexcrc', '.index', '.timeindex'])
      rmSync(join(this.dir, segmentFileName(this.baseOffset, ext)), { force: true })
    renameSync(cleanedPath, this.path)
  }
}

export { LOG_OVERHEAD }
