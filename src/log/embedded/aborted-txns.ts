// The aborted transactions of a partition (producer id and offset range), so read_committed readers can skip their
// data. Kept in memory, appended to a file on each abort, and re-derived from the active segment on recovery.
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs'
import { readInt64, writeInt64 } from './record-batch.ts'

const ENTRY = 24

export interface AbortedTxn {
  producerId: number
  firstOffset: number
  /** Offset of the ABORT marker. */
  lastOffset: number
}

function encode(t: AbortedTxn): Buffer {
  const b = Buffer.allocUnsafe(ENTRY)
  writeInt64(b, 0, t.producerId)
  writeInt64(b, 8, t.firstOffset)
  writeInt64(b, 16, t.lastOffset)
  return b
}

export class AbortedTxnIndex {
  readonly #path: string
  #entries: AbortedTxn[] = []
  #fd = -1

  constructor(path: string) {
    this.#path = path
  }

  /** Loads entries that end before `rederiveFrom`; later ones are re-derived by scanning the log from there. */
  load(rederiveFrom: number): void {
    this.#entries = []
    if (existsSync(this.#path)) {
      const buf = readFileSync(this.#path)
      for (let p = 0; p + ENTRY <= buf.length; p += ENTRY) {
        const t = {
          producerId: readInt64(buf, p),
          firstOffset: readInt64(buf, p + 8),
          lastOffset: readInt64(buf, p + 16),
        }
        if (t.lastOffset < rederiveFrom) this.#entries.push(t)
      }
    }
  }

  add(t: AbortedTxn, persist: boolean): void {
    this.#entries.push(t)
    if (persist && this.#fd >= 0) writeSync(this.#fd, encode(t))
  }

  /** Writes the whole index anew (after recovery) and opens it for appends. */
  rewrite(): void {
    if (this.#fd >= 0) closeSync(this.#fd)
    writeFileSync(`${this.#path}.tmp`, Buffer.concat(this.#entries.map(encode)))
    renameSync(`${this.#path}.tmp`, this.#path)
    this.#fd = openSync(this.#path, 'a')
  }

  /** Entries that may cover offsets at or after `offset`. */
  from(offset: number): AbortedTxn[] {
    return this.#entries.filter((t) => t.lastOffset >= offset)
  }

  prune(logStartOffset: number): void {
    const before = this.#entries.length
    this.#entries = this.#entries.filter((t) => t.lastOffset >= logStartOffset)
    if (this.#entries.length !== before) this.rewrite()
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd)
    this.#fd = -1
  }
}
