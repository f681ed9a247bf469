// The aborted transactions of a partition (producer id and offset range), so read_committed readers can skip their
// data. Kept in memory; the file is rewritten whole when the partition opens, at each roll and after retention, with
// a checksum and the offset below which it is complete. Later entries are re-derived from the active segment on open;
// a file that is missing, damaged or incomplete makes the partition rebuild the index from the whole log.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { crc32c } from '@node-rs/crc32'
import { readInt64, writeInt64 } from './record-batch.ts'

// File layout (big endian):
//   0 magic "SATX" | 4 completeBelow int64 | 12 entry count uint32 | 16 crc32c of the entries
//  20 crc32c of bytes [0, 20) | 24 entries: producerId int64, firstOffset int64, lastOffset int64
const MAGIC = 0x53415458
const HEADER = 24
const ENTRY = 24

export interface AbortedTxn {
  producerId: number
  firstOffset: number
  /** Offset of the ABORT marker. */
  lastOffset: number
}

export class AbortedTxnIndex {
  readonly #path: string
  #entries: AbortedTxn[] = []
  /** Every transaction aborted below this offset is in the file; set by the last rewrite. */
  #completeBelow = 0

  constructor(path: string) {
    this.#path = path
  }

  /**
   * Loads the entries that end before `activeBase`; later ones are re-derived by scanning the active segment.
   * Returns false, with no entries, when the file is missing, damaged, or was not complete up to `activeBase` (a
   * roll whose rewrite did not reach the disk): the caller must then rebuild the index from the whole log.
   */
  load(activeBase: number): boolean {
    this.#entries = []
    if (!existsSync(this.#path)) return false
    const buf = readFileSync(this.#path)
    if (buf.length < HEADER || buf.readUInt32BE(0) !== MAGIC) return false
    if (buf.readUInt32BE(20) !== crc32c(buf.subarray(0, 20))) return false
    const completeBelow = readInt64(buf, 4)
    const end = HEADER + buf.readUInt32BE(12) * ENTRY
    if (completeBelow < activeBase || buf.length !== end) return false
    if (buf.readUInt32BE(16) !== crc32c(buf.subarray(HEADER, end))) return false
    for (let p = HEADER; p < end; p += ENTRY) {
      const t = {
        producerId: readInt64(buf, p),
        firstOffset: readInt64(buf, p + 8),
        lastOffset: readInt64(buf, p + 16),
      }
      if (t.lastOffset < activeBase) this.#entries.push(t)
    }
    return true
  }

  add(t: AbortedTxn): void {
    this.#entries.push(t)
  }

  clear(): void {
    this.#entries = []
  }

  /**
   * Writes the whole index anew, complete below `completeBelow` (the active segment's base offset). Not fsynced: a
   * file lost or torn by a power failure fails its checks at the next open and is rebuilt from the log.
   */
  rewrite(completeBelow: number): void {
    this.#completeBelow = completeBelow
    const buf = Buffer.alloc(HEADER + this.#entries.length * ENTRY)
    this.#entries.forEach((t, i) => {
      const p = HEADER + i * ENTRY
      writeInt64(buf, p, t.producerId)
      writeInt64(buf, p + 8, t.firstOffset)
      writeInt64(buf, p + 16, t.lastOffset)
    })
    buf.writeUInt32BE(MAGIC, 0)
    writeInt64(buf, 4, completeBelow)
    buf.writeUInt32BE(this.#entries.length, 12)
    buf.writeUInt32BE(crc32c(buf.subarray(HEADER)), 16)
    buf.writeUInt32BE(crc32c(buf.subarray(0, 20)), 20)
    writeFileSync(`${this.#path}.tmp`, buf)
    renameSync(`${this.#path}.tmp`, this.#path)
  }

  /** Entries that may cover offsets at or after `offset`. */
  from(offset: number): AbortedTxn[] {
    return this.#entries.filter((t) => t.lastOffset >= offset)
  }

  prune(logStartOffset: number): void {
    const before = this.#entries.length
    this.#entries = this.#entries.filter((t) => t.lastOffset >= logStartOffset)
    if (this.#entries.length !== before) this.rewrite(this.#completeBelow)
  }
}
