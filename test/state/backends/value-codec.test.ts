// The lmdb backend's value encoding must give back exactly what node:v8's structured serialization would, whichever
// of its two forms (JSON or v8) a value takes.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { inspect } from 'node:util'
import { deserialize, serialize } from 'node:v8'
import fc from 'fast-check'
import { decodeValue, encodeValue } from '../../../src/state/backends/value-codec.ts'

const viaV8 = (v: unknown) => deserialize(serialize(v))
const roundTrip = (v: unknown) => decodeValue(encodeValue(v))

describe('state value codec', () => {
  it('round-trips any structured-cloneable value as v8 does', () => {
    const anything = fc.anything({
      withMap: true,
      withSet: true,
      withDate: true,
      withBigInt: true,
      withNullPrototype: true,
      withSparseArray: true,
      withTypedArray: true,
      withBoxedValues: true,
      withUnicodeString: true,
      maxDepth: 4,
    })
    fc.assert(
      fc.property(anything, (v) => {
        assert.deepStrictEqual(roundTrip(v), viaV8(v))
      }),
      { numRuns: 2000 },
    )
  })

  it('keeps what JSON would lose, and writes JSON only for what it keeps', () => {
    const withExtra = Object.assign([1, 2], { extra: true })
    const deep: Record<string, unknown> = {}
    let node = deep
    for (let i = 0; i < 20; i++) node = node.next = {}
    const holey = [1, 2, 3]
    delete holey[1]
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = cyclic
    const holeyNumbers = [1, 2, 3]
    delete holeyNumbers[1]
    class Numbers extends Array<number> {}
    const cases: [unknown, 'json' | 'v8'][] = [
      [{ count: 3, sum: 4.5 }, 'json'],
      [7, 'json'],
      [1e21, 'json'],
      [[12, 0], 'json'],
      [[0.1, -2.5e-7, 3], 'json'],
      [[], 'json'],
      [[1, -0], 'v8'],
      [[1, Number.NaN], 'v8'],
      [[1, Number.POSITIVE_INFINITY], 'v8'],
      [holeyNumbers, 'v8'],
      [Object.assign([1, 2], { extra: 3 }), 'v8'],
      [Numbers.from([1, 2]), 'v8'],
      [[1, 'two', null, { three: [true] }], 'json'],
      ['lone \ud800 surrogate', 'json'],
      [null, 'json'],
      [-0, 'v8'],
      [Number.NaN, 'v8'],
      [{ a: undefined }, 'v8'],
      [holey, 'v8'],
      [withExtra, 'v8'],
      [{ at: new Date(0) }, 'v8'],
      [new Map([[1, 2]]), 'v8'],
      [Object.assign(Object.create(null), { a: 1 }), 'v8'],
      [deep, 'v8'],
      [cyclic, 'v8'],
    ]
    for (const [value, form] of cases) {
      const bytes = encodeValue(value)
      assert.equal(bytes[0] === 0xff ? 'v8' : 'json', form, `form of ${inspect(value)}`)
      assert.deepStrictEqual(decodeValue(bytes), viaV8(value))
    }
  })

  it('reads only the first `length` bytes of a reused buffer', () => {
    for (const value of [{ count: 1, sum: 2 }, new Set([1])]) {
      const bytes = encodeValue(value)
      const big = Buffer.alloc(bytes.length + 64, 0x7b)
      bytes.copy(big)
      assert.deepStrictEqual(decodeValue(big.subarray(0, bytes.length)), viaV8(value))
    }
  })

  it('refuses bytes of an unknown form', () => {
    assert.throws(() => decodeValue(Buffer.from([0x42, 0x00])), /unknown value encoding 0x42/)
    assert.throws(() => decodeValue(Buffer.alloc(0)), /no bytes/)
  })
})
