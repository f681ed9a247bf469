// java.util.Random, bit for bit: the Nexmark generator seeds one per event with the event id, so every field of
// every event depends on this 48-bit LCG (seed * 0x5DEECE66D + 0xB mod 2^48) giving the same numbers as the JDK.
// The 48-bit state is kept as two 24-bit halves in doubles: each partial product stays below 2^53, exactly.

const TWO_24 = 16_777_216
const TWO_31 = 2_147_483_648
const MUL_HI = 0x5de // bits 24..35 of the multiplier 0x5DEECE66D
const MUL_LO = 0xece66d // bits 0..23
const DOUBLE_UNIT = 2 ** -53
const INV_TWO_24 = 2 ** -24

export class JavaRandom {
  #hi = 0
  #lo = 0

  constructor(seed = 0) {
    this.setSeed(seed)
  }

  /** As `new Random(seed)` or `setSeed(seed)`, for a seed in [0, 2^53). */
  setSeed(seed: number): void {
    const high = Math.floor(seed * INV_TWO_24)
    this.#lo = (seed - high * TWO_24) ^ MUL_LO
    this.#hi = (high % TWO_24) ^ MUL_HI
  }

  /** Advances the LCG: seed = (seed * 0x5DEECE66D + 0xB) mod 2^48. */
  #step(): void {
    // Each half only needs the low 24 bits of its products, which Math.imul gives exactly; the one full product
    // (low half × low multiplier, below 2^48 in a double) only feeds the carry. So the chain from one step to the
    // next is a few integer operations, which is what makes this fast.
    const lo = this.#lo
    const newLo = (Math.imul(lo, MUL_LO) + 0xb) & 0xffffff
    const carry = ((lo * MUL_LO + 0xb - newLo) * INV_TWO_24) | 0
    this.#hi = ((Math.imul(this.#hi, MUL_LO) + ((Math.imul(lo, MUL_HI) + carry) | 0)) | 0) & 0xffffff
    this.#lo = newLo
  }

  // next(bits) is seed >>> (48 - bits): the high half shifted up, and the top bits of the low half.

  #next31(): number {
    this.#step()
    return (this.#hi << 7) | (this.#lo >>> 17)
  }

  /** nextInt(): a signed 32-bit int. */
  nextInt(): number {
    this.#step()
    return (this.#hi << 8) | (this.#lo >>> 16)
  }

  /** nextInt(bound), uniform in [0, bound), with the JDK's rejection of the biased top range. */
  nextIntBounded(bound: number): number {
    if ((bound & -bound) === bound) return Math.floor((bound * this.#next31()) / TWO_31)
    for (;;) {
      const bits = this.#next31()
      const val = bits % bound
      // Java: bits - val + (bound - 1) < 0 as an int, i.e. the sum overflowed past 2^31 - 1
      if (bits - val + (bound - 1) < TWO_31) return val
    }
  }

  nextDouble(): number {
    this.#step()
    const high26 = (this.#hi << 2) | (this.#lo >>> 22)
    this.#step()
    const low27 = (this.#hi << 3) | (this.#lo >>> 21)
    return (high26 * 134_217_728 + low27) * DOUBLE_UNIT
  }

  /** nextLong() as a BigInt (signed 64-bit). */
  nextLong(): bigint {
    const high = BigInt(this.nextInt())
    const low = BigInt(this.nextInt())
    return BigInt.asIntN(64, (high << 32n) + low)
  }
}
