// One segment of a partition: a log file of batches named by its base offset, with its offset and time indexes.
import {
  closeSync,
  fdatasync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { SluiceError } from '../../errors/index.ts'
import {
  type BatchHeader,
  checkBatch,
  LOG_OVERHEAD,
  lastOffsetOf,
  peekBatchSize,
  readHeader,
} from './record-batch.ts'
import { OffsetIndex, TimeIndex } from './segment-index.ts'

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
   * Opens a sealed segment: trusts its indexes when they look sane, rebuilding them otherwise. `nextOffset` of a
   * sealed segment is set by the partition (the next segment's base offset).
   */
  loadSealed(): void {
    const okOffsets = this.offsetIndex.load(this.#size)
    const okTimes = this.timeIndex.load()
    if (!okOffsets || !okTimes || (this.#size > 0 && this.timeIndex.maxTimestamp < 0)) {
      this.recover()
      return
    }
    this.maxTimestamp = this.timeIndex.maxTimestamp
  }

  /**
   * Scans every batch, verifying CRCs, and truncates the file at the first batch that is torn or corrupt. Rebuilds
   * both indexes. Used for the active segment after a crash and for any segment whose indexes are unusable.
   */
  recover(): RecoveryReport {
    this.offsetIndex.reset()
    this.timeIndex.reset()
    this.#bytesSinceIndex = 0
    this.maxTimestamp = -1
    this.nextOffset = this.baseOffset
    const batches: RecoveryReport['batches'] = []
    const chunkSize = 1 << 20
    let pos = 0
    let buf = Buffer.alloc(0)
    let bufStart = 0
    while (pos < this.#size) {
      // make sure the batch at pos is entirely in buf
      let rel = pos - bufStart
      let need = peekBatchSize(buf, rel)
      if (need < 0 || rel + need > buf.length) {
        const want = Math.max(chunkSize, need)
        const len = Math.min(want, this.#size - pos)
        buf = Buffer.allocUnsafe(len)
        readSync(this.#fd, buf, 0, len, pos)
        bufStart = pos
        rel = 0
        need = peekBatchSize(buf, 0)
      }
      const check = checkBatch(buf, rel)
      if (check !== 'ok') break
      const h = readHeader(buf, rel)
      if (h.baseOffset < this.nextOffset || lastOffsetOf(h) < h.baseOffset) break
      batches.push({ header: h, position: pos })
      this.#index(h, pos)
      pos += h.sizeInBytes
    }
    const truncatedBytes = this.#size - pos
    if (truncatedBytes > 0) {
      ftruncateSync(this.#fd, pos)
      this.#size = pos
    }
    return { validBytes: pos, truncatedBytes, batches }
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
   * before a batch that would take the visited bytes past it (the first one is always visited), without reading
   * or checking that batch: a bounded read then costs one chunk, not two. Returns 'stop' when the visitor or
   * `maxBytes` ended the scan early, 'continue' when it reached the end of the segment.
   */
  scan(
    fromOffset: number,
    visit: (h: BatchHeader, buf: Buffer, pos: number) => ScanResult,
    chunkBytes = 1 << 20,
    maxBytes = Number.POSITIVE_INFINITY,
  ): ScanResult {
    let pos = fromOffset <= this.baseOffset ? 0 : this.offsetIndex.lookup(fromOffset)
    // once a batch was visited, every later one would be too (offsets increase): only they count against maxBytes
    let visited = 0
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

  /** Forces the log file to disk; indexes are rebuilt on recovery and need no fsync here. */
  async sync(): Promise<void> {
    if (!this.dirty) return
    this.dirty = false
    const fd = this.#fd
    await new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())))
  }

  /** Seals the segment at roll: a final time index entry, and everything forced to disk. */
  seal(): void {
    if (this.maxTimestamp >= 0) this.timeIndex.append(this.maxTimestamp, this.nextOffset - 1)
    fsyncSync(this.#fd)
    fsyncSync(this.offsetIndex.fd)
    fsyncSync(this.timeIndex.fd)
    this.dirty = false
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
    for (const ext of ['.log', '.index', '.timeindex']) {
      rmSync(join(this.dir, segmentFileName(this.baseOffset, ext)), { force: true })
    }
  }

  /**
   * Replaces this segment's file with a rewritten one (compaction). The rename is atomic: a crash leaves either
   * the old file or the new one. The caller reopens the segment afterwards.
   */
  replaceWith(cleanedPath: string): void {
    closeSync(this.#fd)
    this.offsetIndex.close()
    this.timeIndex.close()
    rmSync(join(this.dir, segmentFileName(this.baseOffset, '.index')), { force: true })
    rmSync(join(this.dir, segmentFileName(this.baseOffset, '.timeindex')), { force: true })
    renameSync(cleanedPath, this.path)
  }
}

export { LOG_OVERHEAD }
