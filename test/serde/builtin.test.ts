// The schema-less serdes: values round trip, null stays null (tombstones), and bytes that are not a valid value
// fail with SLUICE_ERR_SERDE naming the serde.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { isSluiceError, type SluiceError } from '../../src/errors/index.ts'
import { bytes, double, json, string } from '../../src/serde/index.ts'
import type { Serde } from '../../src/serde/serde.ts'

const RUNS = { numRuns: 300 }

function roundTrip<T>(serde: Serde<T>, value: T): T {
  return serde.deserialize(serde.serialize(value))
}

/** Asserts that `fn` throws a serde error naming `name`, with the serde in its details and the cause kept. */
function throwsSerdeError(fn: () => unknown, name: string): SluiceError {
  let caught: unknown
  assert.throws(fn, (err) => {
    caught = err
    return true
  })
  assert.ok(isSluiceError(caught, 'SLUICE_ERR_SERDE'), `a SluiceError with code SLUICE_ERR_SERDE: ${caught}`)
  assert.match(caught.message, new RegExp(`\\b${name} serde\\b`))
  assert.equal(caught.details.serde, name)
  assert.equal(caught.domain, 'user')
  assert.equal(caught.retriable, false)
  assert.ok(caught.cause !== undefined, 'the underlying error is kept as the cause')
  return caught
}

// JSON has no -0: JSON.stringify writes it as 0.
function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0
  if (Array.isArray(value)) return value.map(withoutNegativeZero)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNegativeZero(v)]))
  }
  return value
}

describe('json serde', () => {
  test('JSON values round trip (null at the top is a tombstone, and comes back null)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), (value) => {
        assert.deepStrictEqual(roundTrip(json(), value), withoutNegativeZero(value))
      }),
      RUNS,
    )
  })

  test('writes compact UTF-8 JSON text', () => {
    assert.equal(
      json()
        .serialize({ a: [1, 'é'], b: null })
        ?.toString('utf8'),
      '{"a":[1,"é"],"b":null}',
    )
    assert.deepEqual(json().deserialize(Buffer.from(' {"a": [1, "\\u00e9"]} \n')), { a: [1, 'é'] })
  })

  test('null and undefined serialize to null; null bytes deserialize to null', () => {
    assert.equal(json().serialize(null), null)
    assert.equal(json().serialize(undefined), null)
    assert.equal(json().deserialize(null), null)
    // A JSON null inside a value is a value, not a tombstone.
    assert.deepEqual(roundTrip(json(), [null]), [null])
  })

  test('bytes that are not JSON throw SLUICE_ERR_SERDE naming the json serde', () => {
    for (const text of ['{"a":', 'not json', '', "{'a':1}", '[1,]', '{"a":1} trailing']) {
      const err = throwsSerdeError(() => json().deserialize(Buffer.from(text)), 'json')
      assert.ok(err.cause instanceof SyntaxError)
      assert.match(err.message, new RegExp(`${Buffer.byteLength(text)} bytes`))
    }
  })

  test('the message shows the start of the bad bytes, cut to 64', () => {
    const err = throwsSerdeError(() => json().deserialize(Buffer.from(`x${'y'.repeat(200)}`)), 'json')
    assert.ok(err.message.includes(JSON.stringify(`x${'y'.repeat(63)}`)), err.message)
    assert.ok(!err.message.includes('y'.repeat(64)), err.message)
  })
})

describe('string serde', () => {
  test('well-formed strings round trip through UTF-8', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const b = string().serialize(s)
        assert.ok(b !== null)
        assert.equal(b.toString('utf8'), s)
        assert.equal(string().deserialize(b), s)
      }),
      RUNS,
    )
  })

  test('null and undefined serialize to null; null bytes deserialize to null; "" is not null', () => {
    assert.equal(string().serialize(null as unknown as string), null)
    assert.equal(string().serialize(undefined as unknown as string), null)
    assert.equal(string().deserialize(null), null)
    assert.deepEqual(string().serialize(''), Buffer.alloc(0))
    assert.equal(string().deserialize(Buffer.alloc(0)), '')
  })

  test('a lone surrogate has no UTF-8 form and comes back as U+FFFD', () => {
    assert.equal(roundTrip(string(), 'a\ud800b'), 'a\ufffdb')
  })
})

describe('bytes serde', () => {
  test('bytes pass through unchanged', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (arr) => {
        const b = Buffer.from(arr)
        assert.deepStrictEqual(bytes().serialize(b), b)
        assert.deepStrictEqual(roundTrip(bytes(), b), Buffer.from(arr))
      }),
      RUNS,
    )
  })

  test('null and undefined serialize to null; null bytes deserialize to null', () => {
    assert.equal(bytes().serialize(null as unknown as Buffer), null)
    assert.equal(bytes().serialize(undefined as unknown as Buffer), null)
    assert.equal(bytes().deserialize(null), null)
  })
})

describe('double serde', () => {
  test('every double round trips, NaN, infinities and -0 included', () => {
    fc.assert(
      fc.property(fc.double(), (x) => {
        const b = double().serialize(x)
        assert.equal(b?.length, 8)
        assert.ok(Object.is(double().deserialize(b), x), `${x}`)
      }),
      RUNS,
    )
    for (const x of [
      Number.NaN,
      -0,
      0,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.MIN_VALUE,
    ]) {
      assert.ok(Object.is(roundTrip(double(), x), x), `${x}`)
    }
  })

  test('8 big-endian IEEE 754 bytes, as Kafka DoubleSerializer writes them', () => {
    assert.equal(double().serialize(1)?.toString('hex'), '3ff0000000000000')
    assert.equal(double().serialize(-2.5)?.toString('hex'), 'c004000000000000')
    assert.equal(double().deserialize(Buffer.from('400921fb54442d18', 'hex')), Math.PI)
  })

  test('null and undefined serialize to null; null bytes deserialize to null', () => {
    assert.equal(double().serialize(null as unknown as number), null)
    assert.equal(double().serialize(undefined as unknown as number), null)
    assert.equal(double().deserialize(null), null)
  })

  test('any length but 8 throws SLUICE_ERR_SERDE naming the double serde and the length', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 32 }).filter((a) => a.length !== 8),
        (arr) => {
          const err = throwsSerdeError(() => double().deserialize(Buffer.from(arr)), 'double')
          assert.match(err.message, new RegExp(`expected 8 bytes, got ${arr.length}\\b`))
        },
      ),
      RUNS,
    )
  })
})

test('each serde has the name its errors use', () => {
  assert.deepEqual(
    [json(), string(), bytes(), double()].map((s) => s.name),
    ['json', 'string', 'bytes', 'double'],
  )
})
