// A small seeded PRNG and the distributions the traffic simulator draws from. Seeded, so that a seed gives the same
// traffic on every machine and every run: tests compare the pipeline against a reference over that traffic.

export interface Random {
  /** Uniform in [0, 1). */
  next(): number
  /** Uniform integer in [0, n). */
  int(n: number): number
  /** Uniform in [min, max). */
  between(min: number, max: number): number
  /** Exponentially distributed with the given mean. */
  exponential(mean: number): number
  pick<T>(items: readonly T[]): T
}

/** sfc32 (from PractRand): fast, passes BigCrush, and its 128-bit state makes short cycles irrelevant here. */
export function random(seed: number): Random {
  let a = 0x9e3779b9
  let b = 0x243f6a88
  let c = 0xb7e15162
  let d = seed >>> 0
  const next = (): number => {
    a >>>= 0
    b >>>= 0
    c >>>= 0
    d >>>= 0
    const t = (((a + b) >>> 0) + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) >>> 0
    return t / 4294967296
  }
  // the first outputs of sfc32 still carry the seed's bit pattern
  for (let i = 0; i < 15; i++) next()
  return {
    next,
    int: (n) => Math.floor(next() * n),
    between: (min, max) => min + next() * (max - min),
    exponential: (mean) => -mean * Math.log(1 - next()),
    pick: (items) => items[Math.floor(next() * items.length)],
  }
}

/** Draws ranks 0..n-1 with P(rank k) proportional to 1 / (k + 1)^s, by binary search over the cumulative weights. */
export function zipf(n: number, s: number): (rng: Random) => number {
  const cdf = new Float64Array(n)
  let total = 0
  for (let k = 0; k < n; k++) {
    total += 1 / (k + 1) ** s
    cdf[k] = total
  }
  return (rng) => {
    const u = rng.next() * total
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cdf[mid] <= u) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
