// Record keys become strings for state stores: strings stay as they are (the common case, and the fastest), other
// keys are JSON behind a marker byte that no string key may start with unescaped. Changelog keys are made of these
// strings, so the encoding of a key never changes: a number is the marker and the number as JSON prints it.

const MARK = '\u0001'

// Numeric keys (ids) come back again and again: the last encoding seen at each slot of a small table is handed out
// again, which saves printing the number and, as the very same string, hashing it again in every Map it meets.
const SLOTS = 4096
const slotNumbers = new Float64Array(SLOTS).fill(Number.NaN)
const slotTexts: string[] = new Array<string>(SLOTS).fill('')

export function encodeKey(key: unknown): string {
  if (typeof key === 'string') return key.length > 0 && key.charCodeAt(0) <= 2 ? `\u0002${key}` : key
  if (typeof key === 'number') {
    const slot = (key | 0) & (SLOTS - 1)
    // NaN never equals itself, so it is printed each time; -0 finds 0's entry, which is its encoding too
    if (slotNumbers[slot] === key) return slotTexts[slot]
    // JSON prints a finite number as JavaScript does, and NaN and ±Infinity as null
    const text = MARK + (Number.isFinite(key) ? numberText(key) : 'null')
    slotNumbers[slot] = key
    slotTexts[slot] = text
    return text
  }
  return MARK + JSON.stringify(key === undefined ? null : key)
}

export function decodeKey(encoded: string): unknown {
  const c = encoded.charCodeAt(0)
  if (c === 1) return JSON.parse(encoded.slice(1))
  if (c === 2) return encoded.slice(1)
  return encoded
}

/**
 * `String(n)`, faster for integers from 10^9 up: those (epoch milliseconds, mostly) go through the shortest
 * round-trip algorithm for doubles (~100 ns), while two integers below 2^31 print in a few.
 */
export function numberText(n: number): string {
  if (n >= 1e9 && n <= Number.MAX_SAFE_INTEGER && Math.floor(n) === n) {
    const high = Math.floor(n / 1e9)
    // n - high * 1e9 is exact (integers below 2^53); adding 10^9 keeps its leading zeros, then slice drops the 1
    return `${high}${String(n - high * 1e9 + 1e9).slice(1)}`
  }
  return `${n}`
}
