// The sparse indexes of a segment: offset → file position, and max timestamp so far → offset. Kept in memory as
// typed arrays and appended to files so a restart need not rescan sealed segments. Each keeps a running CRC32C of
// its file, which the segment records when it is sealed, so that a damaged index is rebuilt rather than trusted.
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs'
import { crc32c } from '@node-rs/crc32'
import { readInt64, writeInt64 } from './record-batch.ts'

const OFFSET_ENTRY = 8 // relative offset u32, position u32
const TIME_ENTRY = 12 // timestamp i64, relative offset u32

/** Largest index i with keys[i] <= target, or -1. `keys` is sorted ascending over [0, n). */
function floorIndex(keys: ArrayLike<number>, n: number, target: number): number {
  let lo = 0
  let hi = n - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (keys[mid] <= target) {
      found = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  return found
}

class GrowableArray {
  data: Float64Array = new Float64Array(64)
  length = 0
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2)
      next.set(this.data)
      this.data = next
    }
    this.data[this.length++] = v
  }
  clear(): void {
    this.length = 0
  }
}

/** Reads a whole index file. */
function readAll(fd: number): Buffer {
  const size = fstatSync(fd).size
  const buf = Buffer.alloc(size)
  let got = 0
  while (got < size) {
    const n = readSync(fd, buf, got, size - got, got)
    if (n === 0) break
    got += n
  }
  return got === size ? buf : buf.subarray(0, got)
}

export class OffsetIndex {
  readonly #offsets = new GrowableArray()
  readonly #positions = new GrowableArray()
  #fd: number
  readonly #baseOffset: number
  #crc = 0

  constructor(path: string, baseOffset: number) {
    this.#baseOffset = baseOffset
    this.#fd = openSync(path, existsSync(path) ? 'r+' : 'w+')
  }

  /**
   * Loads entries from the file; returns false when they cannot describe a segment of `segmentSize` bytes holding
   * offsets below `endOffset` (the file must then be rebuilt). Entries that pass are still only trusted when the
   * file's CRC matches the one recorded at seal.
   */
  load(segmentSize: number, endOffset: number): boolean {
    this.#offsets.clear()
    this.#positions.clear()
    const buf = readAll(this.#fd)
    this.#crc = crc32c(buf)
    if (buf.length % OFFSET_ENTRY !== 0) return false
    let lastOffset = -1
    let lastPosition = -1
    for (let p = 0; p < buf.length; p += OFFSET_ENTRY) {
      const rel = buf.readUInt32BE(p)
      const pos = buf.readUInt32BE(p + 4)
      if (rel <= lastOffset || pos <= lastPosition || pos >= segmentSize) return false
      if (this.#baseOffset + rel >= endOffset || (p === 0 && pos !== 0)) return false
      lastOffset = rel
      lastPosition = pos
      this.#offsets.push(this.#baseOffset + rel)
      this.#positions.push(pos)
    }
    return true
  }

  append(offset: number, position: number): void {
    this.#offsets.push(offset)
    this.#positions.push(position)
    const entry = Buffer.allocUnsafe(OFFSET_ENTRY)
    entry.writeUInt32BE(offset - this.#baseOffset, 0)
    entry.writeUInt32BE(position, 4)
    writeSync(this.#fd, entry, 0, OFFSET_ENTRY, (this.#offsets.length - 1) * OFFSET_ENTRY)
    this.#crc = crc32c(entry, this.#crc)
  }

  /** CRC32C of the file's contents. */
  get crc(): number {
    return this.#crc
  }

  get byteLength(): number {
    return this.#offsets.length * OFFSET_ENTRY
  }

  /** File position of the last indexed batch starting at or before `offset` (0 if none). */
  lookup(offset: number): number {
    const i = floorIndex(this.#offsets.data, this.#offsets.length, offset)
    return i < 0 ? 0 : this.#positions.data[i]
  }

  reset(): void {
    this.#offsets.clear()
    this.#positions.clear()
    this.#crc = 0
    ftruncateSync(this.#fd, 0)
  }

  get fd(): number {
    return this.#fd
  }

  close(): void {
    closeSync(this.#fd)
  }
}

export class TimeIndex {
  readonly #timestamps = new GrowableArray()
  readonly #offsets = new GrowableArray()
  #fd: number
  readonly #baseOffset: number
  #crc = 0

  constructor(path: string, baseOffset: number) {
    this.#baseOffset = baseOffset
    this.#fd = openSync(path, existsSync(path) ? 'r+' : 'w+')
  }

  /**
   * Loads entries from the file; returns false when they cannot be an index of offsets below `endOffset`: timestamps
   * must grow, and offsets grow with them (the file must then be rebuilt).
   */
  load(endOffset: number): boolean {
    this.#timestamps.clear()
    this.#offsets.clear()
    const buf = readAll(this.#fd)
    this.#crc = crc32c(buf)
    if (buf.length % TIME_ENTRY !== 0) return false
    let lastTs = Number.NEGATIVE_INFINITY
    let lastOffset = this.#baseOffset
    for (let p = 0; p < buf.length; p += TIME_ENTRY) {
      const ts = readInt64(buf, p)
      const offset = this.#baseOffset + buf.readUInt32BE(p + 8)
      if (ts <= lastTs || offset < lastOffset || offset >= endOffset) return false
      lastTs = ts
      lastOffset = offset
      this.#timestamps.push(ts)
      this.#offsets.push(offset)
    }
    return true
  }

  /** Records that every record up to the batch starting at `offset` has a timestamp <= `maxTimestamp`. */
  append(maxTimestamp: number, offset: number): void {
    const n = this.#timestamps.length
    if (n > 0 && maxTimestamp <= this.#timestamps.data[n - 1]) return
    this.#timestamps.push(maxTimestamp)
    this.#offsets.push(offset)
    const entry = Buffer.allocUnsafe(TIME_ENTRY)
    writeInt64(entry, 0, maxTimestamp)
    entry.writeUInt32BE(offset - this.#baseOffset, 8)
    writeSync(this.#fd, entry, 0, TIME_ENTRY, n * TIME_ENTRY)
    this.#crc = crc32c(entry, this.#crc)
  }

  /** CRC32C of the file's contents. */
  get crc(): number {
    return this.#crc
  }

  get byteLength(): number {
    return this.#timestamps.length * TIME_ENTRY
  }

  /**
   * An offset from which scanning finds the first record with timestamp >= `timestamp`: the batch of the last
   * entry whose max is still below it (all records before that batch are earlier), or the segment start.
   */
  lookup(timestamp: number): number {
    const i = floorIndex(this.#timestamps.data, this.#timestamps.length, timestamp - 1)
    return i < 0 ? this.#baseOffset : this.#offsets.data[i]
  }

  get maxTimestamp(): number {
    const n = this.#timestamps.length
    return n === 0 ? -1 : this.#timestamps.data[n - 1]
  }

  reset(): void {
    this.#timestamps.clear()
    this.#offsets.clear()
    this.#crc = 0
    ftruncateSync(this.#fd, 0)
  }

  get fd(): number {
    return this.#fd
  }

  close(): void {
    closeSync(this.#fd)
  }
}
