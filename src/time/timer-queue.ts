// Timers by time: a min-heap of distinct times, each with the set of keys due then. Operators fire everything due
// when the watermark (or the clock) passes; in insertion order within one time, so runs are deterministic.

export class TimerQueue {
  readonly #byTime = new Map<number, Set<string>>()
  readonly #heap: number[] = []

  get size(): number {
    return this.#byTime.size
  }

  /** Whether the timer is new (a key has at most one timer per time). */
  add(time: number, key: string): boolean {
    let keys = this.#byTime.get(time)
    if (keys === undefined) {
      keys = new Set()
      this.#byTime.set(time, keys)
      this.#push(time)
    }
    const before = keys.size
    keys.add(key)
    return keys.size !== before
  }

  delete(time: number, key: string): void {
    this.#byTime.get(time)?.delete(key)
  }

  /** Earliest pending time, or Infinity. */
  peek(): number {
    return this.#heap.length === 0 ? Number.POSITIVE_INFINITY : this.#heap[0]
  }

  /** Removes and returns the earliest time and its keys if it is <= limit. */
  pollUntil(limit: number): { time: number; keys: Set<string> } | null {
    while (this.#heap.length > 0 && this.#heap[0] <= limit) {
      const time = this.#pop()
      const keys = this.#byTime.get(time)!
      this.#byTime.delete(time)
      if (keys.size > 0) return { time, keys }
    }
    return null
  }

  clear(): void {
    this.#byTime.clear()
    this.#heap.length = 0
  }

  #push(t: number): void {
    const h = this.#heap
    let i = h.push(t) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (h[parent] <= t) break
      h[i] = h[parent]
      i = parent
    }
    h[i] = t
  }

  #pop(): number {
    const h = this.#heap
    const top = h[0]
    const last = h.pop()!
    if (h.length > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= h.length) break
        const r = l + 1
        const c = r < h.length && h[r] < h[l] ? r : l
        if (h[c] >= last) break
        h[i] = h[c]
        i = c
      }
      h[i] = last
    }
    return top
  }
}
