// Hands out producer ids that stay unique across restarts: blocks of ids are reserved durably before use.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'

const BLOCK = 1000

export class ProducerIdAllocator {
  readonly #path: string
  #next = -1
  #blockEnd = -1

  constructor(path: string) {
    this.#path = path
  }

  next(): number {
    if (this.#next < 0 || this.#next >= this.#blockEnd) this.#reserve()
    return this.#next++
  }

  #reserve(): void {
    const start = existsSync(this.#path)
      ? (JSON.parse(readFileSync(this.#path, 'utf8')) as { next: number }).next
      : 0
    const end = start + BLOCK
    const tmp = `${this.#path}.tmp`
    const fd = openSync(tmp, 'w')
    writeSync(fd, JSON.stringify({ next: end }))
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, this.#path)
    this.#next = start
    this.#blockEnd = end
  }
}
