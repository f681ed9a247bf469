// Record keys as state-store keys: numbers take a fast path (a table of recent encodings) whose output must stay
// what it always was, the marker and the number as JSON prints it, since changelogs written earlier are keyed by it.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { decodeKey, encodeKey, numberText } from '../../src/state/key-codec.ts'

/** The encoding as first written: the reference for changelog keys. */
function reference(key: unknown): string {
  if (typeof key === 'string') return key.length > 0 && key.charCodeAt(0) <= 2 ? `\u0002${key}` : key
  return `\u0001${JSON.stringify(key === undefined ? null : key)}`
}

const numberArb = fc.oneof(
  fc.integer({ min: -5000, max: 5000 }),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.integer({ min: 1_600_000_000_000, max: 1_800_000_000_000 }),
  fc.double(),
  fc.constantFrom(0, -0, 2 ** 31, 2 ** 32 + 4096, 1e9, 1e21, Number.MAX_SAFE_INTEGER + 2),
)

const keyArb = fc.oneof(
  numberArb,
  fc.string(),
  fc.string({ unit: 'binary' }),
  numberArb.map(String),
  fc.constantFrom(null, undefined, true, '\u0001', '\u00011', '\u0002x'),
  fc.array(fc.integer(), { maxLength: 3 }),
)

describe('key codec', () => {
  it('encodes every key as it always did, however often and in whatever order keys come', () => {
    fc.assert(
      fc.property(fc.array(keyArb, { maxLength: 200 }), (keys) => {
        // twice over: the second pass meets the numbers in the table of recent encodings
        for (const k of [...keys, ...keys]) assert.equal(encodeKey(k), reference(k))
      }),
      { numRuns: 300 },
    )
  })

  it('is injective: numbers, their text and other strings never share an encoding', () => {
    fc.assert(
      fc.property(keyArb, keyArb, (a, b) => {
        if (typeof a === 'number' && Number.isFinite(a)) assert.notEqual(encodeKey(a), encodeKey(String(a)))
        if (encodeKey(a) !== encodeKey(b)) return
        // one encoding: the same string, equal finite numbers (0 and -0 are), or values JSON prints alike (NaN, null)
        if (typeof a === 'string' || typeof b === 'string') assert.equal(a, b)
        else if (typeof a === 'number' && Number.isFinite(a)) assert.equal(a, b)
      }),
      { numRuns: 2000 },
    )
  })

  it('decodes strings and finite numbers back to themselves', () => {
    fc.assert(
      fc.property(fc.oneof(numberArb, fc.string(), fc.string({ unit: 'binary' })), (k) => {
        const decoded = decodeKey(encodeKey(k))
        if (typeof k === 'number' && !Number.isFinite(k)) assert.equal(decoded, null)
        else if (Object.is(k, -0)) assert.equal(decoded, 0)
        else assert.equal(decoded, k)
      }),
      { numRuns: 2000 },
    )
  })

  it('prints numbers as String() does', () => {
    fc.assert(
      fc.property(numberArb, (n) => assert.equal(numberText(n), String(n))),
      { numRuns: 5000 },
    )
  })
})
