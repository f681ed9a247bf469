// Every built-in aggregation against a naive reference: folding all records, and merging the folds of two panes
// split at a random point, give the reference's answer; merge leaves its inputs alone; accumulators survive the
// v8 serialization state backends use.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import v8 from 'node:v8'
import fc from 'fast-check'
import { isSluiceError } from '../../src/errors/index.ts'
import {
  avg,
  collect,
  combine,
  count,
  countDistinct,
  max,
  min,
  reduce,
  sum,
  topN,
} from '../../src/windows/aggregations/index.ts'
import type { Aggregator } from '../../src/windows/aggregator.ts'

const RUNS = { numRuns: 300 }

interface Rec {
  k: string
  x: number
}

// Integer amounts keep sums exact whatever the order of additions, so results can be compared exactly.
const int = fc.integer({ min: -1_000_000, max: 1_000_000 })
// Few, short keys, so that keys repeat and scores tie.
const key = fc.constantFrom('', 'a', 'b', 'c', 'ab', 'B', 'é', '10', '9')
// Plain objects (fc.record's have a null prototype, which structuredClone, used for snapshots, would not keep).
const recs = (x: fc.Arbitrary<number> = int) =>
  fc.array(
    fc.tuple(key, x).map(([k, x]): Rec => ({ k, x })),
    { maxLength: 60 },
  )

interface Case<V, A, R> {
  agg: Aggregator<V, A, R>
  values: V[]
  reference: (values: V[]) => R
}

function fold<V, A, R>(agg: Aggregator<V, A, R>, values: V[]): A {
  let acc = agg.init()
  for (const v of values) acc = agg.add(acc, v)
  return acc
}

const roundTrip = <T>(value: T): T => v8.deserialize(v8.serialize(value))

/** The laws every built-in must keep, for cases drawn from `cases` and a random split point. */
function lawful<V, A, R>(cases: fc.Arbitrary<Case<V, A, R>>): void {
  fc.assert(
    fc.property(cases, fc.nat(), ({ agg, values, reference }, at) => {
      const expected = reference(values)
      const whole = fold(agg, values)
      assert.deepStrictEqual(agg.result(whole), expected, 'fold of all records')

      const cut = at % (values.length + 1)
      const a = fold(agg, values.slice(0, cut))
      const b = fold(agg, values.slice(cut))
      const aBefore = structuredClone(a)
      const bBefore = structuredClone(b)
      assert.ok(agg.merge, `${agg.name} has a merge`)
      const merged = agg.merge(a, b)
      assert.deepStrictEqual(a, aBefore, 'merge left a alone')
      assert.deepStrictEqual(b, bBefore, 'merge left b alone')
      assert.deepStrictEqual(agg.result(merged), expected, 'merge of two panes')

      // The merged accumulator is a new one: adding to it (as a window does after a session merge) leaves the
      // panes it came from alone.
      let grown = merged
      for (const v of values) grown = agg.add(grown, v)
      assert.deepStrictEqual(a, aBefore, 'adding to the merge left a alone')
      assert.deepStrictEqual(b, bBefore, 'adding to the merge left b alone')

      assert.deepStrictEqual(agg.result(roundTrip(whole)), expected, 'fold after v8 round trip')
      assert.deepStrictEqual(
        agg.result(agg.merge(roundTrip(a), roundTrip(b))),
        expected,
        'merge of panes after v8 round trip',
      )
      assert.deepStrictEqual(agg.result(agg.merge(agg.init(), agg.init())), reference([]), 'merge of inits')
    }),
    RUNS,
  )
}

const sameValueZero = (x: unknown, y: unknown) => x === y || (Number.isNaN(x) && Number.isNaN(y))

function naiveTop(values: Rec[], n: number, score: (r: Rec) => number) {
  const keys = values.map((r) => r.k).filter((k, i, all) => all.indexOf(k) === i)
  const totals = keys.map((k) => ({
    key: k,
    score: values.filter((r) => r.k === k).reduce((s, r) => s + score(r), 0),
  }))
  return totals.sort((p, q) => q.score - p.score || (p.key < q.key ? -1 : 1)).slice(0, n)
}

describe('aggregations: merge of panes equals fold of all equals a naive reference', () => {
  test('count', () => {
    lawful(recs().map((values) => ({ agg: count<Rec>(), values, reference: (vs: Rec[]) => vs.length })))
  })

  test('sum', () => {
    const reference = (vs: Rec[]) => vs.reduce((s, r) => s + r.x, 0)
    lawful(recs().map((values) => ({ agg: sum((r: Rec) => r.x), values, reference })))
  })

  // Doubles with NaN, infinities and -0: Math.min/max make the answer independent of order.
  const special = fc.constantFrom(Number.NaN, -0, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY)
  const doubles = recs(fc.oneof({ arbitrary: fc.double(), weight: 9 }, { arbitrary: special, weight: 1 }))

  test('min', () => {
    const reference = (vs: Rec[]) => (vs.length === 0 ? null : Math.min(...vs.map((r) => r.x)))
    lawful(doubles.map((values) => ({ agg: min((r: Rec) => r.x), values, reference })))
  })

  test('max', () => {
    const reference = (vs: Rec[]) => (vs.length === 0 ? null : Math.max(...vs.map((r) => r.x)))
    lawful(doubles.map((values) => ({ agg: max((r: Rec) => r.x), values, reference })))
  })

  test('avg', () => {
    const reference = (vs: Rec[]) => (vs.length === 0 ? null : vs.reduce((s, r) => s + r.x, 0) / vs.length)
    lawful(recs().map((values) => ({ agg: avg((r: Rec) => r.x), values, reference })))
  })

  test('countDistinct', () => {
    const value = fc.oneof(
      key,
      fc.integer({ min: -3, max: 3 }),
      fc.constantFrom(Number.NaN, -0, 0, '0', 'NaN'),
    )
    const reference = (vs: (string | number)[]) =>
      vs.filter((v, i) => vs.findIndex((w) => sameValueZero(v, w)) === i).length
    lawful(
      fc
        .array(value, { maxLength: 60 })
        .map((values) => ({ agg: countDistinct((v: string | number) => v), values, reference })),
    )
  })

  test('topN by frequency', () => {
    lawful(
      fc.tuple(fc.integer({ min: 1, max: 6 }), recs()).map(([n, values]) => ({
        agg: topN(n, { key: (r: Rec) => r.k }),
        values,
        reference: (vs: Rec[]) => naiveTop(vs, n, () => 1),
      })),
    )
  })

  test('topN by total score', () => {
    lawful(
      fc.tuple(fc.integer({ min: 1, max: 6 }), recs(fc.integer({ min: -5, max: 20 }))).map(([n, values]) => ({
        agg: topN(n, { key: (r: Rec) => r.k, score: (r: Rec) => r.x }),
        values,
        reference: (vs: Rec[]) => naiveTop(vs, n, (r) => r.x),
      })),
    )
  })

  test('collect, with and without a limit', () => {
    lawful(
      fc
        .tuple(fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }), recs())
        .map(([limit, values]) => ({
          agg: collect((r: Rec) => r.x, { limit }),
          values,
          reference: (vs: Rec[]) => vs.map((r) => r.x).slice(0, limit ?? vs.length),
        })),
    )
    lawful(recs().map((values) => ({ agg: collect<Rec>(), values, reference: (vs: Rec[]) => vs })))
  })

  test('reduce with an associative, non-commutative function keeps arrival order', () => {
    const concat = (a: string, b: string) => a + b
    lawful(
      fc.array(key, { maxLength: 40 }).map((values) => ({
        agg: reduce(concat),
        values,
        reference: (vs: string[]) => (vs.length === 0 ? null : vs.reduce(concat)),
      })),
    )
  })

  test('reduce over objects', () => {
    const widest = (a: Rec, b: Rec): Rec => ({ k: a.k + b.k, x: Math.max(a.x, b.x) })
    lawful(
      recs().map((values) => ({
        agg: reduce(widest),
        values,
        reference: (vs: Rec[]) => (vs.length === 0 ? null : vs.reduce(widest)),
      })),
    )
  })

  test('combine', () => {
    const of = (r: Rec) => r.x
    lawful(
      recs().map((values) => ({
        agg: combine({
          n: count(),
          total: sum(of),
          lo: min(of),
          hi: max(of),
          mean: avg(of),
          keys: countDistinct((r: Rec) => r.k),
          top: topN(2, { key: (r: Rec) => r.k }),
          firsts: collect(of, { limit: 3 }),
        }),
        values,
        reference: (vs: Rec[]) => ({
          n: vs.length,
          total: vs.reduce((s, r) => s + r.x, 0),
          lo: vs.length === 0 ? null : Math.min(...vs.map(of)),
          hi: vs.length === 0 ? null : Math.max(...vs.map(of)),
          mean: vs.length === 0 ? null : vs.reduce((s, r) => s + r.x, 0) / vs.length,
          keys: new Set(vs.map((r) => r.k)).size,
          top: naiveTop(vs, 2, () => 1),
          firsts: vs.slice(0, 3).map(of),
        }),
      })),
    )
  })
})

describe('aggregations: edge cases', () => {
  test('empty accumulators: count and sum are 0, min/max/avg/reduce null, the others empty', () => {
    const r = combine({
      n: count(),
      total: sum((x: number) => x),
      lo: min((x: number) => x),
      hi: max((x: number) => x),
      mean: avg((x: number) => x),
      distinct: countDistinct((x: number) => x),
      top: topN(3, { key: String }),
      all: collect<number>(),
      folded: reduce((a: number, b: number) => a + b),
    })
    assert.deepStrictEqual(r.result(r.init()), {
      n: 0,
      total: 0,
      lo: null,
      hi: null,
      mean: null,
      distinct: 0,
      top: [],
      all: [],
      folded: null,
    })
  })

  test('sum and avg of arbitrary doubles: panes agree with a single fold up to rounding', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, min: -1e12, max: 1e12 })), fc.nat(), (xs, at) => {
        const cut = at % (xs.length + 1)
        for (const agg of [sum((x: number) => x), avg((x: number) => x)] as Aggregator<
          number,
          unknown,
          unknown
        >[]) {
          const whole = agg.result(fold(agg, xs)) as number | null
          const merged = agg.result(agg.merge!(fold(agg, xs.slice(0, cut)), fold(agg, xs.slice(cut)))) as
            | number
            | null
          if (whole === null || merged === null) {
            assert.equal(whole, merged)
            continue
          }
          const bound = xs.reduce((s, x) => s + Math.abs(x), 0) * Number.EPSILON * (xs.length + 1)
          assert.ok(Math.abs(whole - merged) <= bound, `${agg.name}: ${whole} vs ${merged}`)
        }
      }),
      RUNS,
    )
  })

  test('topN ranks ties by key in code-unit order and NaN totals last', () => {
    const agg = topN(5, { key: (r: Rec) => r.k, score: (r: Rec) => r.x })
    const acc = fold(agg, [
      { k: 'b', x: 2 },
      { k: 'nan', x: Number.NaN },
      { k: 'a', x: 2 },
      { k: 'B', x: 2 },
      { k: 'inf', x: Number.POSITIVE_INFINITY },
      { k: 'nan2', x: Number.NaN },
    ])
    assert.deepStrictEqual(agg.result(acc), [
      { key: 'inf', score: Number.POSITIVE_INFINITY },
      { key: 'B', score: 2 },
      { key: 'a', score: 2 },
      { key: 'b', score: 2 },
      { key: 'nan', score: Number.NaN },
    ])
  })

  test('collect returns a copy: changing the result does not change the window', () => {
    const agg = collect<number>()
    const acc = fold(agg, [1, 2])
    agg.result(acc).push(3)
    assert.deepStrictEqual(agg.result(acc), [1, 2])
  })

  test('combine keeps any key, even "__proto__", through merge and v8 serialization', () => {
    const agg = combine({ ['__proto__']: count(), n: count() })
    const acc = roundTrip(agg.merge!(fold(agg, [1, 2]), fold(agg, [3])))
    assert.deepStrictEqual(Object.keys(acc), ['__proto__', 'n'])
    const result = agg.result(acc)
    assert.equal(Object.getPrototypeOf(result), Object.prototype)
    assert.deepStrictEqual(Object.entries(result), [
      ['__proto__', 3],
      ['n', 3],
    ])
  })

  test('combine cannot merge when one of its members cannot', () => {
    const last: Aggregator<number, number | null> = {
      name: 'last',
      init: () => null,
      add: (_, v) => v,
      result: (acc) => acc,
    }
    const agg = combine({ n: count(), last })
    assert.equal(agg.merge, undefined)
    assert.deepStrictEqual(agg.result(fold(agg, [4, 5])), { n: 2, last: 5 })
  })

  test('names, for describe()', () => {
    const of = (x: number) => x
    assert.deepStrictEqual(
      [count(), sum(of), min(of), max(of), avg(of), countDistinct(of), reduce(Math.max)].map((a) => a.name),
      ['count', 'sum', 'min', 'max', 'avg', 'countDistinct', 'reduce'],
    )
    assert.equal(topN(3, { key: String }).name, 'topN(3)')
    assert.equal(collect({ limit: 5 }).name, 'collect(limit 5)')
    assert.equal(combine({ n: count(), lo: min(of) }).name, 'combine(n: count, lo: min)')
  })

  test('a bad n or limit is refused with SLUICE_ERR_INVALID_ARGUMENT', () => {
    for (const n of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => topN(n, { key: String }),
        (err) => isSluiceError(err, 'SLUICE_ERR_INVALID_ARGUMENT') && /topN/.test(err.message),
        `topN(${n})`,
      )
    }
    for (const limit of [0, -2, 2.5, Number.NaN]) {
      assert.throws(
        () => collect({ limit }),
        (err) => isSluiceError(err, 'SLUICE_ERR_INVALID_ARGUMENT') && /limit/.test(err.message),
        `collect({ limit: ${limit} })`,
      )
    }
  })
})
