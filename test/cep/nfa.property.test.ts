// The automaton against the brute-force matcher: for random patterns (every contiguity, quantifier, negation, until,
// greedy, within and skip strategy) over random short streams, the same matches in the same order.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { Nfa, type PartialMatch } from '../../src/cep/nfa.ts'
import { afterMatch, type Condition, type Pattern, pattern } from '../../src/cep/pattern.ts'
import { bruteForce, type RefEvent } from './brute-force.ts'

interface Ev {
  k: 'a' | 'b' | 'c'
  n: number
}

interface StageSpec {
  letters: Ev['k'][]
  /** Iterative: n at least that of the last event taken by the stage before (or by this stage, for a loop). */
  rising: boolean
  quantifier: 'once' | 'times' | 'range' | 'oneOrMore' | 'timesOrMore'
  optional: boolean
  greedy: boolean
  inner: 'relaxed' | 'strict' | 'any'
  until: Ev['k'] | null
  contiguity: 'next' | 'followedBy' | 'followedByAny'
  negation: { kind: 'notNext' | 'notFollowedBy'; letter: Ev['k'] } | null
}

const letter = fc.constantFrom<Ev['k']>('a', 'b', 'c')
const stageSpec: fc.Arbitrary<StageSpec> = fc.record({
  letters: fc.uniqueArray(letter, { minLength: 1, maxLength: 2 }),
  rising: fc.boolean(),
  quantifier: fc.constantFrom('once', 'once', 'times', 'range', 'oneOrMore', 'timesOrMore'),
  optional: fc.boolean(),
  greedy: fc.boolean(),
  inner: fc.constantFrom('relaxed', 'strict', 'any'),
  until: fc.option(letter, { nil: null }),
  contiguity: fc.constantFrom('next', 'followedBy', 'followedByAny'),
  negation: fc.option(fc.record({ kind: fc.constantFrom('notNext', 'notFollowedBy'), letter }), {
    freq: 3,
    nil: null,
  }),
})

const spec = fc.record({
  stages: fc.array(stageSpec, { minLength: 1, maxLength: 3 }),
  within: fc.option(fc.integer({ min: 1, max: 8 }), { nil: null }),
  skip: fc.constantFrom('noSkip', 'skipToNext', 'skipPastLastEvent', 'skipToFirst', 'skipToLast'),
  skipStage: fc.nat(2),
})

function compile(s: {
  stages: StageSpec[]
  within: number | null
  skip: string
  skipStage: number
}): Pattern<Ev> {
  let p: Pattern<Ev> | null = null
  s.stages.forEach((st, i) => {
    const name = `s${i}`
    if (p === null) p = pattern<Ev>(name)
    else {
      if (st.negation !== null) {
        p = p[st.negation.kind](`not${i}`).where((e) => e.k === st.negation!.letter)
      }
      p = p[st.contiguity](name)
    }
    const before = i === 0 ? null : `s${i - 1}`
    const loop = st.quantifier !== 'once'
    const cond: Condition<Ev> = (e, ctx) => {
      if (!st.letters.includes(e.k)) return false
      if (!st.rising) return true
      const own = loop ? ctx.events(name) : []
      const last =
        own.length > 0 ? own[own.length - 1] : before === null ? undefined : ctx.events(before).at(-1)
      return last === undefined || e.n >= last.n
    }
    p = p.where(cond)
    if (st.quantifier === 'times') p = p.times(2)
    else if (st.quantifier === 'range') p = p.times(1, 3)
    else if (st.quantifier === 'oneOrMore') p = p.oneOrMore()
    else if (st.quantifier === 'timesOrMore') p = p.timesOrMore(2)
    const isLast = i === s.stages.length - 1
    if (loop) {
      if (st.inner === 'strict') p = p.consecutive()
      if (st.inner === 'any') p = p.allowCombinations()
      if (st.until !== null && st.quantifier !== 'times' && st.quantifier !== 'range') {
        const u = st.until
        p = p.until((e) => e.k === u)
      }
      if (st.greedy && !isLast) p = p.greedy()
    }
    if (st.optional && !isLast) p = p.optional()
  })
  let out = p! as Pattern<Ev>
  if (s.within !== null) out = out.within(s.within)
  const stageName = `s${s.skipStage % s.stages.length}`
  const skip =
    s.skip === 'skipToFirst'
      ? afterMatch.skipToFirst(stageName)
      : s.skip === 'skipToLast'
        ? afterMatch.skipToLast(stageName)
        : afterMatch[s.skip as 'noSkip' | 'skipToNext' | 'skipPastLastEvent']()
  return out.afterMatch(skip)
}

const stream = fc
  .array(fc.record({ k: letter, n: fc.nat(3), gap: fc.nat(2) }), { maxLength: 7 })
  .map((xs) => {
    let ts = 0
    return xs.map(({ k, n, gap }): RefEvent<Ev> => {
      ts += gap
      return { ts, value: { k, n } }
    })
  })

function runNfa(p: Pattern<Ev>, events: RefEvent<Ev>[]): [number, number][][] {
  const nfa = new Nfa(p)
  let partials: PartialMatch<Ev>[] = []
  const out: [number, number][][] = []
  events.forEach((e, seq) => {
    const r = nfa.process(partials, { seq, ts: e.ts, value: e.value })
    partials = r.partials
    for (const m of r.result.matches) out.push(m.taken.map(([s, ev]) => [s, ev.seq]))
  })
  return out
}

describe('CEP automaton against the brute-force matcher', () => {
  it('finds the same matches in the same order for random patterns and streams', () => {
    fc.assert(
      fc.property(spec, stream, (s, events) => {
        const p = compile(s)
        assert.deepEqual(runNfa(p, events), bruteForce(p, events))
      }),
      { numRuns: 3000 },
    )
  })

  it('has matches to compare: the random patterns are not all empty-handed', () => {
    let withMatches = 0
    fc.assert(
      fc.property(spec, stream, (s, events) => {
        if (bruteForce(compile(s), events).length > 0) withMatches++
      }),
      { numRuns: 500 },
    )
    assert.ok(withMatches > 100, `only ${withMatches} of 500 runs had a match`)
  })
})
