// A binary min-heap ordered by (time, sequence number): the simulator's two event queues. Ties break by insertion
// order, so equal times come out in the same order on every run.

interface Entry<T> {
  time: number
  seq: number
  item: T
}

export class TimeHeap<T> {
  readonly #entries: Entry<T>[] = []
  #seq = 0

  get size(): number {
    return this.#entries.length
  }

  /** The earliest time, or Infinity when empty. */
  peekTime(): number {
    return this.#entries.length === 0 ? Number.POSITIVE_INFINITY : this.#entries[0].time
  }

  push(time: number, item: T): void {
    const h = this.#entries
    const e = { time, seq: this.#seq++, item }
    // sift up by moving parents down into the hole, rather than swapping pairs
    let i = h.length
    h.push(e)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(e, h[parent])) break
      h[i] = h[parent]
      i = parent
    }
    h[i] = e
  }

  pop(): T | undefined {
    const h = this.#entries
    if (h.length === 0) return undefined
    const top = h[0]
    const last = h.pop()!
    const n = h.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const c = l + 1 < n && before(h[l + 1], h[l]) ? l + 1 : l
        if (!before(h[c], last)) break
        h[i] = h[c]
        i = c
      }
      h[i] = last
    }
    return top.item
  }
}

function before<T>(x: Entry<T>, y: Entry<T>): boolean {
  return x.time < y.time || (x.time === y.time && x.seq < y.seq)
}
